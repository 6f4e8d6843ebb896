package conformance

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/auth"
)

// The contexts of the fixture.
const (
	userContext         mizan.Context = "user"
	ordersContext       mizan.Context = "orders"
	subscriptionContext mizan.Context = "subscription"
)

// Headers read by [TestAuthenticator].
const (
	// HeaderTestUser carries the id of the caller.
	HeaderTestUser = "X-Test-User"
	// HeaderTestStaff set to "1" makes the caller staff.
	HeaderTestStaff = "X-Test-Staff"
)

// ordersPerPage is the page size of order_page.
const ordersPerPage = 10

// FixtureConfig configures [NewFixture]. The zero value is usable.
type FixtureConfig struct {
	// App is the configuration of the app (prefix, logger, cache...).
	// When its Authenticator is nil, the fixture uses [TestAuthenticator].
	// The fixture always signs users in (docs/spec.md §8): a JWT key or MWT
	// secret that App.Auth leaves unset is drawn at random (its tokens do
	// not outlive the process), and without Credentials the fixture's are
	// used ([CheckCredentials]).
	App mizan.Config
}

// NewFixture returns the fixture application of docs/spec.md §7, plus the
// test-only mutation panic_for_tests (see the package documentation),
// registered but not built: call [mizan.App.Build] to see registration
// errors before serving it. Each call has its own in-memory data, starting
// from the fixture's initial users and orders.
func NewFixture(cfg FixtureConfig) *mizan.App {
	c := cfg.App
	if c.Authenticator == nil {
		c.Authenticator = TestAuthenticator()
	}
	var ac auth.Config
	if c.Auth != nil {
		ac = *c.Auth
	}
	if len(ac.PrivateKey) == 0 {
		ac.PrivateKey = randomSecret()
	}
	if ac.MWTSecret == nil {
		ac.MWTSecret = randomSecret()
	}
	if ac.Credentials == nil {
		ac.Credentials = CheckCredentials
	}
	c.Auth = &ac
	app := mizan.New(c)
	s := newStore()

	mizan.Query(app, currentUser, mizan.Name("current_user"), mizan.In(mizan.Global))
	mizan.Query(app, s.userProfile, mizan.Name("user_profile"), mizan.In(userContext))
	mizan.Query(app, s.userOrders, mizan.Name("user_orders"), mizan.In(userContext))
	mizan.Query(app, s.orderPage, mizan.Name("order_page"), mizan.In(ordersContext))
	mizan.Query(app, plan, mizan.Name("plan"), mizan.In(subscriptionContext))

	mizan.Mutation(app, s.updateProfile, mizan.Name("update_profile"), mizan.Affects(userContext), mizan.WebSocket())
	mizan.Mutation(app, s.updateProfile, mizan.Name("update_name"), mizan.AffectsFunction("user_profile"))
	mizan.Mutation(app, s.resetAll, mizan.Name("reset_all"), mizan.Affects(userContext, ordersContext))
	mizan.Mutation(app, s.archiveOrders, mizan.Name("archive_orders"), mizan.Affects(ordersContext))
	mizan.Mutation(app, secret, mizan.Name("secret"), mizan.RequireAuth())
	mizan.Mutation(app, adminAction, mizan.Name("admin_action"), mizan.RequireStaff())
	mizan.Mutation(app, fail, mizan.Name("fail"))
	mizan.Mutation(app, panicForTests, mizan.Name("panic_for_tests"))
	s.registerTasks(app)
	(&formStore{}).register(app)
	(&counter{}).register(app)

	mizan.View(app, s.profilePage, mizan.Name("profile_page"), mizan.In(userContext),
		mizan.Route("/profile/{user_id}/"))
	mizan.View(app, s.updateProfileView, mizan.Name("update_profile_view"), mizan.Affects(userContext),
		mizan.Route("/profile/{user_id}/update/"), mizan.Methods(http.MethodPost))
	mizan.View(app, stripeWebhook, mizan.Name("stripe_webhook"), mizan.Private(),
		mizan.Affects(subscriptionContext), mizan.Route("/webhooks/stripe/"), mizan.Methods(http.MethodPost))
	return app
}

// TestAuthenticator returns the fixture's test-only authenticator: the
// caller's id is the value of the X-Test-User header, and X-Test-Staff: 1
// makes the caller staff. A request without X-Test-User is anonymous. The
// identity is a header credential (Identity.Bearer), exempt from the CSRF
// check. Never use it outside tests: anyone can claim any identity.
func TestAuthenticator() mizan.Authenticator {
	return mizan.AuthenticatorFunc(func(r *http.Request) (*mizan.Identity, error) {
		id := r.Header.Get(HeaderTestUser)
		if id == "" {
			return nil, nil
		}
		return &mizan.Identity{ID: id, Staff: r.Header.Get(HeaderTestStaff) == "1", Bearer: true}, nil
	})
}

// randomSecret returns 32 random bytes in hex: a JWT key or MWT secret for
// one run of the fixture.
func randomSecret() []byte {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return []byte(hex.EncodeToString(b[:]))
}

// accounts are the fixture's sign-in credentials (docs/spec.md §7): the
// password of each user is the username followed by "-pw"; ada is staff.
var accounts = map[string]auth.User{
	"ada":   {ID: "1", Staff: true},
	"grace": {ID: "2"},
	"lin":   {ID: "3"},
}

// CheckCredentials is the fixture's credential check for auth/token/:
// users ada (staff), grace and lin, each with the password username + "-pw"
// (docs/spec.md §7). It returns nil for anything else.
func CheckCredentials(_ context.Context, username, password string) (*auth.User, error) {
	u, ok := accounts[username]
	if !ok || subtle.ConstantTimeCompare([]byte(password), []byte(username+"-pw")) != 1 {
		return nil, nil
	}
	return &u, nil
}

// user is one fixture user.
type user struct {
	id    int
	name  string
	email string
}

// order is one fixture order.
type order struct {
	id     int
	total  int
	status string
}

// store is the fixture's in-memory data, safe for concurrent use.
type store struct {
	mu     sync.RWMutex
	users  map[int]user
	orders map[int][]order // by user id, in id order
	ts     taskStore
}

func newStore() *store {
	s := &store{}
	s.users, s.orders = initialData()
	s.ts = initialTasks()
	return s
}

// initialData returns the fixture's users and orders (package documentation).
func initialData() (map[int]user, map[int][]order) {
	users := map[int]user{
		1: {id: 1, name: "Ada", email: "ada@example.com"},
		2: {id: 2, name: "Grace", email: "grace@example.com"},
		3: {id: 3, name: "Lin", email: "lin@example.com"},
	}
	orders := make(map[int][]order, len(users))
	for id := range users {
		orders[id] = []order{
			{id: id*100 + 1, total: 1200, status: "open"},
			{id: id*100 + 2, total: 4550, status: "shipped"},
		}
	}
	return users, orders
}

// errNoUser is the error of every function given an unknown user id.
func errNoUser(id int) *mizan.Error {
	return mizan.Errorf(mizan.CodeNotFound, "no user with id %d", id)
}

// Arguments and results of the fixture's functions.
type (
	userArgs struct {
		UserID int `json:"user_id"`
	}
	nameArgs struct {
		UserID int    `json:"user_id"`
		Name   string `json:"name"`
	}
	pageArgs struct {
		UserID int    `json:"user_id"`
		Page   int    `json:"page"`
		Status string `json:"status"`
	}
	archiveArgs struct {
		UserID int    `json:"user_id"`
		Status string `json:"status"`
	}
	callerResult struct {
		ID any `json:"id"` // an integer when the id is one, else a string
	}
	profileResult struct {
		ID    int    `json:"id"`
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	orderResult struct {
		ID    int `json:"id"`
		Total int `json:"total"`
	}
	pageItem struct {
		ID     int    `json:"id"`
		Total  int    `json:"total"`
		Status string `json:"status"`
	}
	pageResult struct {
		Items []pageItem `json:"items"`
		Page  int        `json:"page"`
	}
	okResult struct {
		OK bool `json:"ok"`
	}
	secretResult struct {
		Secret int `json:"secret"`
	}
	planResult struct {
		Plan string `json:"plan"`
	}
)

// currentUser returns the caller's id, or nil (JSON null) when anonymous.
func currentUser(ctx context.Context, _ struct{}) (*callerResult, error) {
	id := mizan.Caller(ctx)
	if id == nil {
		return nil, nil
	}
	if n, err := strconv.ParseInt(id.ID, 10, 64); err == nil {
		return &callerResult{ID: n}, nil
	}
	return &callerResult{ID: id.ID}, nil
}

func (s *store) userProfile(_ context.Context, in userArgs) (profileResult, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[in.UserID]
	if !ok {
		return profileResult{}, errNoUser(in.UserID)
	}
	return profileResult{ID: u.id, Name: u.name, Email: u.email}, nil
}

func (s *store) userOrders(_ context.Context, in userArgs) ([]orderResult, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.users[in.UserID]; !ok {
		return nil, errNoUser(in.UserID)
	}
	out := make([]orderResult, 0, len(s.orders[in.UserID]))
	for _, o := range s.orders[in.UserID] {
		out = append(out, orderResult{ID: o.id, Total: o.total})
	}
	return out, nil
}

func (s *store) orderPage(_ context.Context, in pageArgs) (pageResult, error) {
	if in.Page < 1 {
		return pageResult{}, mizan.NewError(mizan.CodeInvalidArgs, "invalid arguments: page").
			WithFields(map[string]string{"page": "must be 1 or more"})
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.users[in.UserID]; !ok {
		return pageResult{}, errNoUser(in.UserID)
	}
	items := []pageItem{}
	for _, o := range s.orders[in.UserID] {
		if o.status == in.Status {
			items = append(items, pageItem{ID: o.id, Total: o.total, Status: o.status})
		}
	}
	// The page is caller-supplied: compare before multiplying, so that no
	// page number overflows.
	start := len(items)
	if in.Page-1 < (len(items)+ordersPerPage-1)/ordersPerPage {
		start = (in.Page - 1) * ordersPerPage
	}
	end := min(start+ordersPerPage, len(items))
	return pageResult{Items: items[start:end], Page: in.Page}, nil
}

func plan(context.Context, struct{}) (planResult, error) {
	return planResult{Plan: "free"}, nil
}

// updateProfile changes a user's name; update_profile and update_name both
// run it and differ only in what they declare they affect.
func (s *store) updateProfile(_ context.Context, in nameArgs) (okResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[in.UserID]
	if !ok {
		return okResult{}, errNoUser(in.UserID)
	}
	u.name = in.Name
	s.users[in.UserID] = u
	return okResult{OK: true}, nil
}

func (s *store) resetAll(context.Context, struct{}) (okResult, error) {
	users, orders := initialData()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users, s.orders = users, orders
	return okResult{OK: true}, nil
}

func (s *store) archiveOrders(_ context.Context, in archiveArgs) (okResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[in.UserID]; !ok {
		return okResult{}, errNoUser(in.UserID)
	}
	// Copy on write: a slice handed out before is never changed under a reader.
	orders := slices.Clone(s.orders[in.UserID])
	for i := range orders {
		if orders[i].status == in.Status {
			orders[i].status = "archived"
		}
	}
	s.orders[in.UserID] = orders
	return okResult{OK: true}, nil
}

func secret(context.Context, struct{}) (secretResult, error) {
	return secretResult{Secret: 42}, nil
}

func adminAction(context.Context, struct{}) (okResult, error) {
	return okResult{OK: true}, nil
}

func fail(context.Context, struct{}) (okResult, error) {
	return okResult{}, mizan.NewError(mizan.CodeConflict, "this action always conflicts")
}

// panicDetail is the text of panic_for_tests' panic: the suite checks that
// it is logged and never sent.
const panicDetail = "panic_for_tests: deliberate panic, detail db-password-7f3a"

func panicForTests(context.Context, struct{}) (okResult, error) {
	panic(panicDetail)
}

// profileTemplate is the page of profile_page.
var profileTemplate = template.Must(template.New("profile").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{{.Name}}</title></head>
<body>
<h1>{{.Name}}</h1>
<p>{{.Email}}</p>
<form method="post" action="/profile/{{.ID}}/update/">
<input name="name" value="{{.Name}}"> <button>Save</button>
</form>
</body>
</html>
`))

func (s *store) profilePage(ctx context.Context, in userArgs) (http.Handler, error) {
	p, err := s.userProfile(ctx, in)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := profileTemplate.Execute(&b, p); err != nil {
		return nil, fmt.Errorf("rendering the profile page of user %d: %w", in.UserID, err)
	}
	return mizan.HTML(http.StatusOK, b.String()), nil
}

func (s *store) updateProfileView(ctx context.Context, in nameArgs) (http.Handler, error) {
	if _, err := s.updateProfile(ctx, in); err != nil {
		return nil, err
	}
	return http.RedirectHandler("/profile/"+strconv.Itoa(in.UserID)+"/", http.StatusFound), nil
}

// stripeWebhook accepts any event: it reads the raw body (so that a body
// over the app's limit is refused with 413) and answers 200; the app adds
// the header that invalidates subscription.
func stripeWebhook(ctx context.Context, _ struct{}) (http.Handler, error) {
	if _, err := io.Copy(io.Discard, mizan.Request(ctx).Body); err != nil {
		return nil, fmt.Errorf("reading the webhook body: %w", err)
	}
	return nil, nil
}
