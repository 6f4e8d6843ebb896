// Command quickstart-htmx is the quickstart's task boards as an htmx page:
// server-rendered HTML fragments, each declaring the context instance it
// shows, refreshed by the @mizan/htmx extension when a mutation's targets
// match them (docs/htmx.md). Run it with
//
//	bash examples/quickstart-htmx/run.sh
//
// which installs htmx.org and builds @mizan/htmx first; the page loads both
// from node_modules through this server (-node-modules), no CDN.
//
// The page (GET /) shows a summary of every board, and for each of the two
// boards an info fragment (name, open tasks) and a task list. Each one is
// a GET view of its own (/fragments/...) and declares what it shows:
//
//	<h2 hx-get="/fragments/boards/1/info/" hx-trigger="mizan:refresh"
//	    mizan-context="board" mizan-params='{"board_id":1}' mizan-fn="board_info">
//
// The forms and buttons post with htmx (HX-Request: true) to view
// mutations, which answer 204 with HX-Trigger: {"mizan:invalidate":
// {"targets": [...]}}; the extension refreshes exactly the fragments those
// targets match. Adding a task (add_task: board;board_id=N) refreshes that
// board's info and tasks and the summary; renaming a board (rename_board:
// the function board_info of board N) its info and the summary only;
// resetting the demo (broad: board) every fragment. The page also connects
// to the WebSocket hub (ws/ under /api/mizan/), so that a mutation made by
// anyone else, for example
//
//	curl -s localhost:8080/api/mizan/call/ -H 'Content-Type: application/json' \
//	  -d '{"fn":"add_task","args":{"board_id":2,"title":"From curl"}}'
//
// refreshes the matching fragments of every open page.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/live"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart-htmx:", err)
		os.Exit(1)
	}
}

// BoardContext groups the reads of one board, as in the quickstart.
const BoardContext mizan.Context = "board"

// Task is one task of a board.
type Task struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
	Done  bool   `json:"done"`
}

// board is one board of the store.
type board struct {
	name  string
	tasks []Task
}

// store is the app's in-memory data, safe for concurrent use.
type store struct {
	mu     sync.RWMutex
	boards map[int]*board
	nextID int
}

// newStore returns a store holding the demo data.
func newStore() *store {
	s := &store{}
	s.reset()
	return s
}

// reset puts the demo data back.
func (s *store) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.boards = map[int]*board{
		1: {name: "Launch", tasks: []Task{{ID: 1, Title: "Write the docs"}, {ID: 2, Title: "Tag v0.1.0"}}},
		2: {name: "Chores", tasks: []Task{{ID: 3, Title: "Water the plants", Done: true}}},
	}
	s.nextID = 4
}

// get returns board id, or not_found. The caller holds s.mu.
func (s *store) get(id int) (*board, error) {
	b, ok := s.boards[id]
	if !ok {
		return nil, mizan.Errorf(mizan.CodeNotFound, "no board %d", id)
	}
	return b, nil
}

// BoardArgs name a board; board_id is the board context's parameter.
type BoardArgs struct {
	BoardID int `json:"board_id"`
}

// BoardInfo is the summary of a board.
type BoardInfo struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	Open int    `json:"open"`
}

// boardInfo is the board_info function of the board context.
func (s *store) boardInfo(_ context.Context, in BoardArgs) (BoardInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, err := s.get(in.BoardID)
	if err != nil {
		return BoardInfo{}, err
	}
	info := BoardInfo{ID: in.BoardID, Name: b.name}
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

// AddTaskArgs are the arguments of add_task: board_id scopes its target.
type AddTaskArgs struct {
	BoardID int    `json:"board_id"`
	Title   string `json:"title" validate:"required,max=200"`
}

// addTask adds a task to a board.
func (s *store) addTask(_ context.Context, in AddTaskArgs) (Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.get(in.BoardID)
	if err != nil {
		return Task{}, err
	}
	t := Task{ID: s.nextID, Title: in.Title}
	s.nextID++
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

// completeTask marks a task done; twice is a 409 conflict.
func (s *store) completeTask(_ context.Context, in TaskArgs) (OK, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.get(in.BoardID)
	if err != nil {
		return OK{}, err
	}
	i := slices.IndexFunc(b.tasks, func(t Task) bool { return t.ID == in.TaskID })
	if i < 0 {
		return OK{}, mizan.Errorf(mizan.CodeNotFound, "no task %d on board %d", in.TaskID, in.BoardID)
	}
	if b.tasks[i].Done {
		return OK{}, mizan.NewError(mizan.CodeConflict, "the task is already done")
	}
	b.tasks[i].Done = true
	return OK{true}, nil
}

// RenameArgs are the arguments of rename_board.
type RenameArgs struct {
	BoardID int    `json:"board_id"`
	Name    string `json:"name" validate:"required,max=80"`
}

// renameBoard renames a board. Only board_info shows the name: its target
// is that function of the board.
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

// resetDemo puts the demo data back: a broad target, every board.
func (s *store) resetDemo(context.Context, struct{}) (OK, error) {
	s.reset()
	return OK{true}, nil
}

// Summary is what the summary fragment shows: every board's open tasks.
type Summary struct {
	Boards []BoardInfo
	Open   int
}

// summary reads every board's info.
func (s *store) summary(ctx context.Context) (Summary, error) {
	s.mu.RLock()
	ids := make([]int, 0, len(s.boards))
	for id := range s.boards {
		ids = append(ids, id)
	}
	s.mu.RUnlock()
	slices.Sort(ids)
	var sum Summary
	for _, id := range ids {
		info, err := s.boardInfo(ctx, BoardArgs{BoardID: id})
		if err != nil {
			continue // deleted meanwhile
		}
		sum.Boards = append(sum.Boards, info)
		sum.Open += info.Open
	}
	return sum, nil
}

// The fragments, and the page that holds them. Each fragment template is
// the inner HTML of its element on the page: what its hx-get answers with.
var tmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>Mizan quickstart · htmx</title>
<link rel="icon" href="data:,">
<script src="/assets/htmx.min.js"></script>
<script src="/assets/mizan-htmx.js" data-connect="/api/mizan/ws/"></script>
<style>section { display: inline-block; vertical-align: top; margin-right: 3em }</style>
<body hx-ext="mizan">
<h1>Boards</h1>
<p id="summary" hx-get="/fragments/summary/" hx-trigger="mizan:refresh"
   mizan-context="board" mizan-fn="board_info">{{template "summary" .Summary}}</p>
<button id="reset" hx-post="/reset/" hx-swap="none">Reset the demo</button>
{{range .Boards}}
<section id="board-{{.Info.ID}}">
<h2 id="info-{{.Info.ID}}" hx-get="/fragments/boards/{{.Info.ID}}/info/" hx-trigger="mizan:refresh"
    mizan-context="board" mizan-params='{"board_id":{{.Info.ID}}}' mizan-fn="board_info">{{template "info" .Info}}</h2>
<div id="tasks-{{.Info.ID}}" hx-get="/fragments/boards/{{.Info.ID}}/tasks/" hx-trigger="mizan:refresh"
     mizan-context="board" mizan-params='{"board_id":{{.Info.ID}}}' mizan-fn="board_tasks">{{template "tasks" .}}</div>
<form id="rename-{{.Info.ID}}" method="post" action="/boards/{{.Info.ID}}/name/" hx-post="/boards/{{.Info.ID}}/name/" hx-swap="none">
<input name="name" required maxlength="80" aria-label="New name" placeholder="New name"> <button>Rename</button>
</form>
</section>
{{end}}
</body>
</html>
{{define "summary"}}{{.Open}} open tasks on {{len .Boards}} boards{{end}}
{{define "info"}}{{.Name}} · <span class="open">{{.Open}} open</span>{{end}}
{{define "tasks"}}<ul>{{range .Tasks}}
<li id="task-{{.ID}}">{{if .Done}}<s>{{.Title}}</s>{{else}}{{.Title}}
<button hx-post="/boards/{{$.Info.ID}}/tasks/{{.ID}}/done/" hx-swap="none">Done</button>{{end}}</li>{{end}}
</ul>
<form method="post" action="/boards/{{.Info.ID}}/tasks/" hx-post="/boards/{{.Info.ID}}/tasks/" hx-swap="none">
<input name="title" required maxlength="200" aria-label="New task" placeholder="New task"> <button>Add</button>
</form>{{end}}`))

// boardData is what the tasks fragment and the page's sections render.
type boardData struct {
	Info  BoardInfo
	Tasks []Task
}

// render executes template name into an HTML handler.
func render(name string, data any) (http.Handler, error) {
	var b bytes.Buffer
	if err := tmpl.ExecuteTemplate(&b, name, data); err != nil {
		return nil, fmt.Errorf("rendering %s: %w", name, err)
	}
	return mizan.HTML(http.StatusOK, b.String()), nil
}

// board reads what the page shows of one board.
func (s *store) board(ctx context.Context, in BoardArgs) (boardData, error) {
	info, err := s.boardInfo(ctx, in)
	if err != nil {
		return boardData{}, err
	}
	tasks, err := s.boardTasks(ctx, in)
	if err != nil {
		return boardData{}, err
	}
	return boardData{info, tasks}, nil
}

// homePage is the page at /: the summary and every board, each fragment
// rendered in place (the page makes no request until something changes).
func (s *store) homePage(ctx context.Context, _ struct{}) (http.Handler, error) {
	sum, err := s.summary(ctx)
	if err != nil {
		return nil, err
	}
	var boards []boardData
	for _, info := range sum.Boards {
		b, err := s.board(ctx, BoardArgs{BoardID: info.ID})
		if err != nil {
			continue // deleted meanwhile
		}
		boards = append(boards, b)
	}
	return render("page", struct {
		Summary Summary
		Boards  []boardData
	}{sum, boards})
}

// summaryFragment is the summary's fragment. It reads every board; its
// element declares the board context without params, which every target of
// board matches.
func (s *store) summaryFragment(ctx context.Context, _ struct{}) (http.Handler, error) {
	sum, err := s.summary(ctx)
	if err != nil {
		return nil, err
	}
	return render("summary", sum)
}

// infoFragment is a board's info fragment (board_info).
func (s *store) infoFragment(ctx context.Context, in BoardArgs) (http.Handler, error) {
	info, err := s.boardInfo(ctx, in)
	if err != nil {
		return nil, err
	}
	return render("info", info)
}

// tasksFragment is a board's task list with its form (board_tasks).
func (s *store) tasksFragment(ctx context.Context, in BoardArgs) (http.Handler, error) {
	b, err := s.board(ctx, in)
	if err != nil {
		return nil, err
	}
	return render("tasks", b)
}

// done answers a view mutation: 204 to htmx, whose extension refreshes the
// fragments the response's HX-Trigger targets match; a redirect to the page
// for a browser posting the form without JavaScript.
var done = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("HX-Request") == "true" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
})

// addTaskView is the view mutation behind a board's Add form.
func (s *store) addTaskView(ctx context.Context, in AddTaskArgs) (http.Handler, error) {
	if _, err := s.addTask(ctx, in); err != nil {
		return nil, err
	}
	return done, nil
}

// completeTaskView is the view mutation behind a task's Done button.
func (s *store) completeTaskView(ctx context.Context, in TaskArgs) (http.Handler, error) {
	if _, err := s.completeTask(ctx, in); err != nil {
		return nil, err
	}
	return done, nil
}

// renameBoardView is the view mutation behind a board's Rename form.
func (s *store) renameBoardView(ctx context.Context, in RenameArgs) (http.Handler, error) {
	if _, err := s.renameBoard(ctx, in); err != nil {
		return nil, err
	}
	return done, nil
}

// resetView is the view mutation behind the Reset button.
func (s *store) resetView(ctx context.Context, in struct{}) (http.Handler, error) {
	if _, err := s.resetDemo(ctx, in); err != nil {
		return nil, err
	}
	return done, nil
}

// newApp registers the functions and views over s, starts the live hub
// and builds the app.
func newApp(s *store, logger *slog.Logger) (*mizan.App, *live.Hub, error) {
	app := mizan.New(mizan.Config{Logger: logger})

	// The data, also on the RPC endpoints (ctx/board/, call/).
	mizan.Query(app, s.boardInfo, mizan.In(BoardContext))
	mizan.Query(app, s.boardTasks, mizan.In(BoardContext))
	mizan.Mutation(app, s.addTask, mizan.Affects(BoardContext))             // board;board_id=N
	mizan.Mutation(app, s.completeTask, mizan.Affects(BoardContext))        // board;board_id=N
	mizan.Mutation(app, s.renameBoard, mizan.AffectsFunction("board_info")) // board_info of board N
	mizan.Mutation(app, s.resetDemo, mizan.Affects(BoardContext))           // every board

	// The page and its fragments: GET views.
	mizan.View(app, s.homePage, mizan.Route("/"))
	mizan.View(app, s.summaryFragment, mizan.Route("/fragments/summary/"))
	mizan.View(app, s.infoFragment, mizan.In(BoardContext), mizan.Route("/fragments/boards/{board_id}/info/"))
	mizan.View(app, s.tasksFragment, mizan.In(BoardContext), mizan.Route("/fragments/boards/{board_id}/tasks/"))

	// What the page posts to: view mutations with the same targets as the
	// RPC mutations above.
	mizan.View(app, s.addTaskView, mizan.Affects(BoardContext), mizan.Route("/boards/{board_id}/tasks/"))
	mizan.View(app, s.completeTaskView, mizan.Affects(BoardContext), mizan.Route("/boards/{board_id}/tasks/{task_id}/done/"))
	mizan.View(app, s.renameBoardView, mizan.AffectsFunction("board_info"), mizan.Route("/boards/{board_id}/name/"))
	mizan.View(app, s.resetView, mizan.Affects(BoardContext), mizan.Route("/reset/"))

	// Pushed invalidations: the page subscribes to the instances it shows.
	hub, err := live.New(app, live.Options{Logger: logger})
	if err != nil {
		return nil, nil, fmt.Errorf("starting the live hub: %w", err)
	}
	if err := app.Build(); err != nil {
		_ = hub.Close()
		return nil, nil, fmt.Errorf("building the quickstart-htmx app: %w", err)
	}
	return app, hub, nil
}

// assets are the scripts the page loads, by URL path, as paths under a
// node_modules directory.
var assets = map[string]string{
	"/assets/htmx.min.js":   "htmx.org/dist/htmx.min.js",
	"/assets/mizan-htmx.js": "@mizan/htmx/dist/mizan-htmx.js",
}

// handler serves the scripts of assets from nodeModules, and everything
// else from app.
func handler(app http.Handler, nodeModules string) http.Handler {
	mux := http.NewServeMux()
	for urlPath, file := range assets {
		full := filepath.Join(nodeModules, filepath.FromSlash(file))
		mux.HandleFunc("GET "+urlPath, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			http.ServeFile(w, r, full)
		})
	}
	mux.Handle("/", app)
	return mux
}

// run parses args and serves until ctx is done or SIGINT/SIGTERM.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("quickstart-htmx", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "`host:port` to listen on")
	nodeModules := fs.String("node-modules", "quickstart-htmx/node_modules",
		"the `dir` holding htmx.org and @mizan/htmx (examples/quickstart-htmx/node_modules; run.sh passes it)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, file := range assets {
		if _, err := os.Stat(filepath.Join(*nodeModules, filepath.FromSlash(file))); err != nil {
			return fmt.Errorf("the page's scripts: %w (run examples/quickstart-htmx/run.sh, or pass -node-modules)", err)
		}
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	app, hub, err := newApp(newStore(), logger)
	if err != nil {
		return err
	}
	defer hub.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *addr, err)
	}
	fmt.Fprintf(stdout, "Mizan quickstart-htmx listening on http://%s\nOpen http://%[1]s/ in a browser. Press Ctrl+C to stop.\n", ln.Addr())
	opts := mizan.ServerOptions{Logger: logger}
	// The hub closes the WebSockets first: a drain does not wait for them.
	opts.OnShutdown = append(opts.OnShutdown, func(context.Context) error { return hub.Close() })
	return mizan.Serve(ctx, ln, handler(app, *nodeModules), opts)
}
