package conformance

import (
	"context"
	"sync"

	"github.com/mizan-afi/mizan"
)

// The fixture's forms (docs/spec.md §7, §10): contact, with a view path
// for browsers, and order_lines, whose lines are a formset; message_count
// counts what contact stored.

const messagesContext mizan.Context = "messages"

// ContactForm is the contact form's fields (docs/spec.md §10).
type ContactForm struct {
	Name    string `json:"name" validate:"required,max=100" label:"Name"`
	Email   string `json:"email" validate:"required,email" label:"Email"`
	Age     *int   `json:"age,omitempty" validate:"omitempty,min=18,max=130" label:"Age"`
	Topic   string `json:"topic" validate:"required,oneof=sales support" label:"Topic"`
	Message string `json:"message" validate:"required,min=10,max=2000" label:"Message" widget:"textarea"`
}

// OrderLine is one row of the order_lines formset.
type OrderLine struct {
	SKU string `json:"sku" validate:"required,len=6" label:"SKU"`
	Qty int    `json:"qty" validate:"required,min=1,max=99" label:"Quantity"`
}

// OrderLinesForm is the order_lines form's fields (docs/spec.md §10).
type OrderLinesForm struct {
	Customer string      `json:"customer" validate:"required" label:"Customer"`
	Lines    []OrderLine `json:"lines" validate:"required,min=1,max=5,dive" label:"Lines"`
}

type contactResult struct {
	OK bool `json:"ok"`
	ID int  `json:"id"`
}

type orderLinesResult struct {
	OK    bool `json:"ok"`
	Lines int  `json:"lines"`
}

type countResult struct {
	Count int `json:"count"`
}

// formStore keeps what the forms stored.
type formStore struct {
	mu       sync.Mutex
	messages []ContactForm
	orders   [][]OrderLine
}

func (s *formStore) register(app *mizan.App) {
	mizan.Form(app, s.contact, mizan.Name("contact"), mizan.Affects(messagesContext),
		mizan.Route("/contact/"), mizan.Success("/contact/thanks/"))
	mizan.Form(app, s.orderLines, mizan.Name("order_lines"), mizan.Affects(ordersContext))
	mizan.Query(app, s.messageCount, mizan.Name("message_count"), mizan.In(messagesContext))
}

func (s *formStore) contact(_ context.Context, in ContactForm) (contactResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, in)
	return contactResult{OK: true, ID: len(s.messages)}, nil
}

func (s *formStore) orderLines(_ context.Context, in OrderLinesForm) (orderLinesResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders = append(s.orders, in.Lines)
	return orderLinesResult{OK: true, Lines: len(in.Lines)}, nil
}

func (s *formStore) messageCount(context.Context, struct{}) (countResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return countResult{Count: len(s.messages)}, nil
}
