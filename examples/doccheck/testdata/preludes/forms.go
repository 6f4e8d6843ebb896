// For docs/forms.md: the contact form of its first block, and what its
// fragments call.
package doccheck

import (
	"context"
	"html/template"

	"github.com/go-playground/validator/v10"
	"github.com/mizan-afi/mizan"
)

type ContactForm struct {
	Email string `json:"email" validate:"required,email"`
}

type sent struct {
	OK bool `json:"ok"`
}

func contact(ctx context.Context, in ContactForm) (sent, error) { return sent{OK: true}, nil }

func titleTaken(ctx context.Context, project int64, title string) bool { return false }

var (
	_ = template.Must
	_ validator.FieldLevel
	_ = mizan.Form[ContactForm, sent]
)
