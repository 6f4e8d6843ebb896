// Command quickstart is a small task-board app served by Mizan, on
// in-memory data. Run it from the root of the repository with
//
//	go -C examples run ./quickstart
//
// (the examples are a Go module of their own, examples/go.mod; in
// examples/ it is go run ./quickstart) and try the curl commands it
// prints. It shows, in one file:
//
//   - a global context (current_user) read through a demo authenticator;
//   - a named context, board, whose two functions take board_id and are
//     fetched together by GET /api/mizan/ctx/board/?board_id=1;
//   - mutations whose invalidation is scoped by argument name (add_task →
//     board;board_id=1), broad (reset_demo → board) and function-level
//     (rename_board → board_info only);
//   - an error of the function's own choosing (complete_task: 409 conflict);
//   - a mutation that requires a signed-in caller (delete_task);
//   - HTML views: a board page and a form that posts to a view mutation;
//   - the in-memory origin cache, purged by every mutation (X-Mizan-Cache).
//
// The demo authenticator trusts an X-Demo-User header: anyone can claim any
// name. It stands in for real authentication and must not be copied into an
// application.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/cache"
)

func main() {
	// run stops on SIGINT or SIGTERM by itself (mizan.Serve); a second one
	// ends the process at once.
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// BoardContext groups the reads of one board. Every function in it is
// fetched by GET /api/mizan/ctx/board/?board_id=N and invalidated together.
const BoardContext mizan.Context = "board"

// Task is one task of a board.
type Task struct {
	ID        int    `json:"id"`
	Title     string `json:"title"`
	Done      bool   `json:"done"`
	CreatedBy string `json:"created_by"`
}

// board is one board of the store.
type board struct {
	name  string
	tasks []Task
}

// store is the app's in-memory data. It is safe for concurrent use: every
// method locks, and results are copies the caller may keep.
type store struct {
	mu         sync.RWMutex
	boards     map[int]*board
	nextTaskID int
}

// newStore returns a store holding the demo data.
func newStore() *store {
	s := &store{}
	s.reset()
	return s
}

// reset puts the demo data back. The caller must not hold s.mu.
func (s *store) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.boards = map[int]*board{
		1: {name: "Launch", tasks: []Task{
			{ID: 1, Title: "Write the docs", CreatedBy: "ada"},
			{ID: 2, Title: "Tag v0.1.0", CreatedBy: "ada"},
		}},
		2: {name: "Chores", tasks: []Task{
			{ID: 3, Title: "Water the plants", Done: true, CreatedBy: "lin"},
		}},
	}
	s.nextTaskID = 4
}

// get returns board id, or a not_found error the caller sees as 404. The
// caller must hold s.mu.
func (s *store) get(id int) (*board, error) {
	b, ok := s.boards[id]
	if !ok {
		return nil, mizan.Errorf(mizan.CodeNotFound, "no board %d", id)
	}
	return b, nil
}

// BoardArgs are the arguments of the board context's functions. The json
// name board_id is the context's parameter: a mutation with an argument of
// the same name is scoped to that board.
type BoardArgs struct {
	BoardID int `json:"board_id"`
}

// BoardInfo is the summary of a board.
type BoardInfo struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Tasks int    `json:"tasks"`
	Open  int    `json:"open"`
}

// boardInfo is the board_info function of the board context.
func (s *store) boardInfo(_ context.Context, in BoardArgs) (BoardInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, err := s.get(in.BoardID)
	if err != nil {
		return BoardInfo{}, err
	}
	info := BoardInfo{ID: in.BoardID, Name: b.name, Tasks: len(b.tasks)}
	for _, t := range b.tasks {
		if !t.Done {
			info.Open++
		}
	}
	return info, nil
}

// boardTasks is the board_tasks function of the board context.
func (s *store) boardTasks(_ context.Context, in BoardArgs) ([]Task, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, err := s.get(in.BoardID)
	if err != nil {
		return nil, err
	}
	return slices.Clone(b.tasks), nil
}

// User is the caller as current_user reports it.
type User struct {
	ID string `json:"id"`
}

// currentUser is the current_user function of the global context: the
// caller, or null for an anonymous one.
func currentUser(ctx context.Context, _ struct{}) (*User, error) {
	if id := mizan.Caller(ctx); id != nil {
		return &User{ID: id.ID}, nil
	}
	return nil, nil
}

// AddTaskArgs are the arguments of add_task. BoardID scopes its
// invalidation: adding to board 1 invalidates board;board_id=1 only.
type AddTaskArgs struct {
	BoardID int    `json:"board_id"`
	Title   string `json:"title" validate:"required,max=200"`
}

// addTask adds a task to a board.
func (s *store) addTask(ctx context.Context, in AddTaskArgs) (Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.get(in.BoardID)
	if err != nil {
		return Task{}, err
	}
	by := "anonymous"
	if id := mizan.Caller(ctx); id != nil {
		by = id.ID
	}
	t := Task{ID: s.nextTaskID, Title: in.Title, CreatedBy: by}
	s.nextTaskID++
	b.tasks = append(b.tasks, t)
	return t, nil
}

// TaskArgs name one task of one board.
type TaskArgs struct {
	BoardID int `json:"board_id"`
	TaskID  int `json:"task_id"`
}

// OK is the result of a mutation with nothing else to say.
type OK struct {
	OK bool `json:"ok"`
}

// task returns the index of in.TaskID on board b, or a not_found error.
func task(b *board, in TaskArgs) (int, error) {
	i := slices.IndexFunc(b.tasks, func(t Task) bool { return t.ID == in.TaskID })
	if i < 0 {
		return 0, mizan.Errorf(mizan.CodeNotFound, "no task %d on board %d", in.TaskID, in.BoardID)
	}
	return i, nil
}

// completeTask marks a task done. Completing it twice is the caller's
// mistake, reported as 409 conflict with the field at fault.
func (s *store) completeTask(_ context.Context, in TaskArgs) (OK, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.get(in.BoardID)
	if err != nil {
		return OK{}, err
	}
	i, err := task(b, in)
	if err != nil {
		return OK{}, err
	}
	if b.tasks[i].Done {
		return OK{}, mizan.NewError(mizan.CodeConflict, "the task is already done").
			WithFields(map[string]string{"task_id": "already done"})
	}
	b.tasks[i].Done = true
	return OK{true}, nil
}

// deleteTask removes a task. It is registered with RequireAuth: anonymous
// callers get 401.
func (s *store) deleteTask(_ context.Context, in TaskArgs) (OK, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.get(in.BoardID)
	if err != nil {
		return OK{}, err
	}
	i, err := task(b, in)
	if err != nil {
		return OK{}, err
	}
	b.tasks = slices.Delete(b.tasks, i, i+1)
	return OK{true}, nil
}

// RenameArgs are the arguments of rename_board.
type RenameArgs struct {
	BoardID int    `json:"board_id"`
	Name    string `json:"name" validate:"required,max=80"`
}

// renameBoard renames a board. Only board_info shows the name, so it
// affects that one function: clients refetch board_info, not board_tasks.
func (s *store) renameBoard(_ context.Context, in RenameArgs) (OK, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.get(in.BoardID)
	if err != nil {
		return OK{}, err
	}
	b.name = in.Name
	return OK{true}, nil
}

// resetDemo puts the demo data back. It takes no board_id, so its target is
// broad: every board.
func (s *store) resetDemo(context.Context, struct{}) (OK, error) {
	s.reset()
	return OK{true}, nil
}

var pages = template.Must(template.New("home").Parse(`<!doctype html>
<meta charset="utf-8"><title>Mizan quickstart</title>
<h1>Boards</h1>
<ul>{{range .}}<li><a href="/boards/{{.ID}}/">{{.Name}}</a> ({{.Open}} open)</li>{{end}}</ul>
{{define "board"}}<!doctype html>
<meta charset="utf-8"><title>{{.Info.Name}} · Mizan quickstart</title>
<p><a href="/">All boards</a></p>
<h1>{{.Info.Name}}</h1>
<ul>{{range .Tasks}}
<li>{{if .Done}}<s>{{.Title}}</s>{{else}}{{.Title}}{{end}} <small>by {{.CreatedBy}}</small></li>{{end}}
</ul>
<form method="post" action="/boards/{{.Info.ID}}/tasks/">
<input name="title" required maxlength="200" placeholder="New task"> <button>Add</button>
</form>
<p><small>The form posts to a view mutation; its redirect carries
<code>X-Mizan-Invalidate: board;board_id={{.Info.ID}}</code>.</small></p>
{{end}}`))

// render executes a page template into an HTML handler.
func render(name string, data any) (http.Handler, error) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		return nil, fmt.Errorf("rendering %s: %w", name, err)
	}
	return mizan.HTML(http.StatusOK, b.String()), nil
}

// home is the page at /: the list of boards.
func (s *store) home(ctx context.Context, _ struct{}) (http.Handler, error) {
	s.mu.RLock()
	ids := make([]int, 0, len(s.boards))
	for id := range s.boards {
		ids = append(ids, id)
	}
	s.mu.RUnlock()
	slices.Sort(ids)
	var infos []BoardInfo
	for _, id := range ids {
		info, err := s.boardInfo(ctx, BoardArgs{BoardID: id})
		if err != nil {
			continue // deleted meanwhile
		}
		infos = append(infos, info)
	}
	return render("home", infos)
}

// boardPage is the page of one board. It is a view in the board context, so
// it is part of the context's invalidation graph.
func (s *store) boardPage(ctx context.Context, in BoardArgs) (http.Handler, error) {
	info, err := s.boardInfo(ctx, in)
	if err != nil {
		return nil, err
	}
	tasks, err := s.boardTasks(ctx, in)
	if err != nil {
		return nil, err
	}
	return render("board", struct {
		Info  BoardInfo
		Tasks []Task
	}{info, tasks})
}

// addTaskForm is the view mutation behind the board page's form: board_id
// comes from the route, title from the form. It answers with a redirect
// that carries the invalidation header only.
func (s *store) addTaskForm(ctx context.Context, in AddTaskArgs) (http.Handler, error) {
	if _, err := s.addTask(ctx, in); err != nil {
		return nil, err
	}
	return http.RedirectHandler(fmt.Sprintf("/boards/%d/", in.BoardID), http.StatusSeeOther), nil
}

// demoUserName is what the demo authenticator accepts as a user name.
var demoUserName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// demoAuth is the demo authenticator: the X-Demo-User header names the
// caller, and no header means an anonymous caller. A header is a credential
// a browser never sends on its own, so these callers are exempt from the
// CSRF token check (Identity.Bearer).
func demoAuth(r *http.Request) (*mizan.Identity, error) {
	name := r.Header.Get("X-Demo-User")
	if name == "" {
		return nil, nil
	}
	if !demoUserName.MatchString(name) {
		return nil, mizan.NewError(mizan.CodeUnauthorized, "X-Demo-User must be a lower-case name such as ada")
	}
	return &mizan.Identity{ID: name, Bearer: true}, nil
}

// newApp registers the quickstart's functions on a new app over s and builds
// it. c is the origin cache, or nil for none. ui, when not nil, serves what
// no route of the app matches (-ui: a built front end under /ui/).
func newApp(s *store, c *cache.Cache, logger *slog.Logger, ui ...http.Handler) (*mizan.App, error) {
	cfg := mizan.Config{
		Authenticator: mizan.AuthenticatorFunc(demoAuth),
		Cache:         c,
		Logger:        logger,
	}
	if len(ui) > 0 {
		cfg.Fallback = ui[0]
	}
	app := mizan.New(cfg)

	// Reads. The wire name is the snake_case of the Go name.
	mizan.Query(app, currentUser, mizan.In(mizan.Global))
	mizan.Query(app, s.boardInfo, mizan.In(BoardContext))
	mizan.Query(app, s.boardTasks, mizan.In(BoardContext))

	// Writes, and what they invalidate.
	mizan.Mutation(app, s.addTask, mizan.Affects(BoardContext))                         // board;board_id=N
	mizan.Mutation(app, s.completeTask, mizan.Affects(BoardContext))                    // board;board_id=N
	mizan.Mutation(app, s.deleteTask, mizan.Affects(BoardContext), mizan.RequireAuth()) // board;board_id=N
	mizan.Mutation(app, s.renameBoard, mizan.AffectsFunction("board_info"))             // board_info of board N
	mizan.Mutation(app, s.resetDemo, mizan.Affects(BoardContext))                       // every board

	// HTML views on routes of their own.
	mizan.View(app, s.home, mizan.Route("/"))
	mizan.View(app, s.boardPage, mizan.In(BoardContext), mizan.Route("/boards/{board_id}/"))
	mizan.View(app, s.addTaskForm, mizan.Affects(BoardContext), mizan.Route("/boards/{board_id}/tasks/"))

	if err := app.Build(); err != nil {
		return nil, fmt.Errorf("building the quickstart app: %w", err)
	}
	return app, nil
}

// newMemoryCache returns an in-process origin cache under a fresh random
// secret: fine for one process, and lost on restart as the data is.
func newMemoryCache(logger *slog.Logger) (*cache.Cache, error) {
	secret := make([]byte, cache.MinSecretLen)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("generating a cache secret: %w", err)
	}
	c, err := cache.New(cache.Options{
		Backend: cache.NewMemory(cache.MemoryOptions{}),
		Secret:  secret,
		Logger:  logger,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the origin cache: %w", err)
	}
	return c, nil
}

// run parses args, serves the app until ctx is done or the process gets
// SIGINT or SIGTERM, then shuts down gracefully. It prints the URL and the
// demo commands to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "`host:port` to listen on")
	useCache := fs.Bool("cache", true, "serve context fetches through an in-memory origin cache")
	uiDir := fs.String("ui", "", "serve the built front end in `dir` under /ui/ (a Vite build: the Vue and Svelte examples, docs/client.md)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	var c *cache.Cache
	if *useCache {
		var err error
		if c, err = newMemoryCache(logger); err != nil {
			return err
		}
		defer c.Close()
	}
	var ui []http.Handler
	if *uiDir != "" {
		ui = append(ui, uiHandler(*uiDir))
	}
	app, err := newApp(newStore(), c, logger, ui...)
	if err != nil {
		return err
	}
	// With MIZAN_WRITE_IR set (mizan generate --cmd), write the IR there
	// and exit: how the Vue and Svelte examples generate their clients.
	app.WriteIRFromEnv()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *addr, err)
	}
	printIntro(stdout, baseURL(ln.Addr()), c != nil)

	// mizan.Serve bounds how long a client may take to send its request
	// and to read the response, closes idle connections, limits the
	// headers, and on Ctrl+C (SIGINT), SIGTERM or the end of ctx drains the
	// requests in flight before running OnShutdown and returning nil.
	opts := mizan.ServerOptions{Logger: logger}
	if c != nil {
		opts.OnShutdown = append(opts.OnShutdown, func(context.Context) error { return c.Close() })
	}
	return mizan.Serve(ctx, ln, app, opts)
}

// baseURL returns the URL a listener answers on, naming the loopback host
// when it listens on every interface.
func baseURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// demoCall is one of the ready-to-paste requests printed on start.
type demoCall struct {
	name    string // key for tests
	comment string
	method  string
	path    string
	user    string // X-Demo-User, or ""
	body    string // a call/ body, or ""
}

// demoCalls are the requests printed on start, in an order that works when
// pasted one after the other.
var demoCalls = []demoCall{
	{name: "fetch", comment: `Fetch the "board" context: both of its functions in one response`,
		method: "GET", path: "/api/mizan/ctx/board/?board_id=1"},
	{name: "add", comment: "Add a task: the target is scoped by the board_id argument",
		method: "POST", path: "/api/mizan/call/", body: `{"fn":"add_task","args":{"board_id":1,"title":"Try Mizan"}}`},
	{name: "rename", comment: "Rename the board: a function-level target (board_info only)",
		method: "POST", path: "/api/mizan/call/", body: `{"fn":"rename_board","args":{"board_id":1,"name":"Ship it"}}`},
	{name: "delete-anonymous", comment: "Delete a task anonymously: refused with 401 (RequireAuth)",
		method: "POST", path: "/api/mizan/call/", body: `{"fn":"delete_task","args":{"board_id":1,"task_id":2}}`},
	{name: "delete", comment: "... and as the demo user ada",
		method: "POST", path: "/api/mizan/call/", user: "ada", body: `{"fn":"delete_task","args":{"board_id":1,"task_id":2}}`},
	{name: "reset", comment: "Reset the demo: a broad target, every board",
		method: "POST", path: "/api/mizan/call/", body: `{"fn":"reset_demo","args":{}}`},
	{name: "global", comment: `The "global" context: who is calling`,
		method: "GET", path: "/api/mizan/ctx/global/", user: "ada"},
}

// curl returns the command line that makes the request against base.
func (d demoCall) curl(base string) string {
	var b strings.Builder
	b.WriteString("curl -si '" + base + d.path + "'")
	if d.user != "" {
		b.WriteString(" -H 'X-Demo-User: " + d.user + "'")
	}
	if d.body != "" {
		b.WriteString(" -H 'Content-Type: application/json' -d '" + d.body + "'")
	}
	return b.String()
}

// printIntro prints where the app listens and the demo commands.
func printIntro(w io.Writer, base string, cached bool) {
	fmt.Fprintf(w, "Mizan quickstart listening on %s\n", base)
	if cached {
		fmt.Fprintln(w, "Origin cache: in memory (X-Mizan-Cache says hit, miss or bypass)")
	}
	fmt.Fprintf(w, "\nOpen %s/boards/1/ in a browser, or paste these:\n", base)
	for _, d := range demoCalls {
		fmt.Fprintf(w, "\n# %s\n%s\n", d.comment, d.curl(base))
	}
	fmt.Fprintln(w, "\nPress Ctrl+C to stop.")
}

// uiHandler serves the files of dir under /ui/, and dir's index.html for
// any other path under /ui/ (a single-page app's routes); anything else is
// a 404.
func uiHandler(dir string) http.Handler {
	files := http.StripPrefix("/ui/", http.FileServer(http.Dir(dir)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/ui/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(path.Clean("/"+rest)))); rest != "" && err != nil {
			http.ServeFile(w, r, filepath.Join(dir, "index.html"))
			return
		}
		files.ServeHTTP(w, r)
	})
}
