package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/live"
	"github.com/mizan-afi/mizan/ssr"
)

// The contexts of the taskboard. Every read belongs to one; a client fetches
// all the functions of a context in one request (GET ctx/<name>/?params) and
// refetches them when a mutation names the context in its targets.
const (
	// BoardContext holds what every page shows: the projects and the team.
	// It has no parameters, so every target naming it is broad.
	BoardContext mizan.Context = "board"
	// ProjectContext holds one project's page: its name, tasks and numbers.
	// Its parameter is project_id, so a mutation with a project_id argument
	// invalidates that one project only.
	ProjectContext mizan.Context = "project"
	// TaskContext holds one task with its comments, scoped by task_id.
	TaskContext mizan.Context = "task"
	// DirectoryContext holds what only signed-in members see of each
	// other: email addresses and who is staff. Its function is guarded
	// (RequireAuth), so a fetch of it is refused with 401 to anonymous
	// callers; it is in no server-rendered page, whose contexts must stay
	// public for the pages to be pre-rendered (pages.go).
	DirectoryContext mizan.Context = "directory"
	// DemoContext holds the sign-in page's list of demo accounts. It is
	// public on purpose, and only because this is a demo: see
	// demoAccounts.
	DemoContext mizan.Context = "demo"
)

// Status is where a task stands: todo, doing or done.
type Status string

// The statuses of a task, in board order.
const (
	StatusTodo  Status = "todo"
	StatusDoing Status = "doing"
	StatusDone  Status = "done"
)

// User is a member of the team with everything the app knows of them, as
// current_user gives the caller their own record and rename_user the
// record it renamed (both to signed-in callers only).
type User struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Staff bool   `json:"staff"`
}

// Person is a user as anyone may see one: as other records refer to one,
// and as the public team list shows one. Names are public (every task and
// comment shows them); email addresses and staff flags are not.
type Person struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// Member is what a signed-in member sees of another besides the name
// (which team gives everyone): their email address and whether they are
// staff. members returns these, behind RequireAuth.
type Member struct {
	ID    int    `json:"id"`
	Email string `json:"email"`
	Staff bool   `json:"staff"`
}

// DemoAccount is one demo account as the sign-in page lists it: the
// username (also its password) and whether it is staff. The name is the
// team's.
type DemoAccount struct {
	ID       int    `json:"id"`
	Username string `json:"username"`
	Staff    bool   `json:"staff"`
}

// Project is a project's name and description.
type Project struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// TaskCard is a task as a project's board shows it.
type TaskCard struct {
	ID       int     `json:"id"`
	Title    string  `json:"title"`
	Status   Status  `json:"status"`
	Assignee *Person `json:"assignee"`
	Comments int     `json:"comments"`
	// DueDate is the day the task is due (2026-12-24), if it has one.
	DueDate *string `json:"due_date"`
}

// Stats counts a project's tasks by status.
type Stats struct {
	Todo  int `json:"todo"`
	Doing int `json:"doing"`
	Done  int `json:"done"`
	Total int `json:"total"`
}

// TaskDetail is one task with everything its page shows.
type TaskDetail struct {
	ID          int       `json:"id"`
	ProjectID   int       `json:"project_id"`
	ProjectName string    `json:"project_name"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	DueDate     *string   `json:"due_date"`
	Status      Status    `json:"status"`
	Assignee    *Person   `json:"assignee"`
	CreatedBy   Person    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
}

// TaskComment is a comment on a task.
type TaskComment struct {
	ID        int       `json:"id"`
	Author    Person    `json:"author"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// OK is the result of a mutation with nothing else to say.
type OK struct {
	OK bool `json:"ok"`
}

// store is the taskboard's data, in SQLite. Its methods are the server
// functions; they are safe for concurrent use (database/sql pools the
// connections, and SQLite serialises the writers).
type store struct {
	db  *sql.DB
	now func() time.Time
}

// appConfig is what newApp needs besides the store.
type appConfig struct {
	cache  *cache.Cache // nil: no origin cache
	ui     http.Handler // serves every path Mizan does not; nil: 404
	logger *slog.Logger
	// jwtKey signs the JWTs (HS256, 32 bytes or more); nil: a random one
	// (the IR, tests).
	jwtKey []byte
	// accessTTL is the lifetime of access tokens; zero: 5 minutes (the
	// browser test shortens it to see the UI refresh them).
	accessTTL time.Duration
	// limits bounds the failed sign-ins per username and per address;
	// zero: auth.DefaultLimits (the timing benchmark turns them off).
	limits auth.Limits
	// ssr, when set, serves the UI's main pages server-rendered (see
	// pages.go); nil: every page is rendered in the browser.
	ssr *ssrConfig
}

// newApp registers the taskboard's functions on a new app over s, adds the
// live hub (the WebSocket endpoint ws/ that pushes every mutation's
// invalidations to every open page) and builds the app. s may have a nil
// database when the app only writes its IR. Close the hub when the server
// stops.
func newApp(s *store, cfg appConfig) (*mizan.App, *live.Hub, *ssr.Pages, error) {
	key := cfg.jwtKey
	if key == nil {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	// Sign-in (auth.go): JWTs signed with key, sessions in memory (a
	// restart signs everyone out; session.OpenRedis would share them),
	// and the demo users' credential check for auth/token/.
	app := mizan.New(mizan.Config{
		Auth:     &auth.Config{PrivateKey: key, AccessTTL: cfg.accessTTL, Credentials: s.credentials, Limits: cfg.limits},
		Cache:    cfg.cache,
		Fallback: cfg.ui,
		Logger:   cfg.logger,
	})

	// Reads. Shared: these functions never read the caller, so signed-in
	// users share the origin cache's entries. current_user does read it.
	// Every read is public but members: anyone may browse the projects and
	// the team's names (team gives people as Person: id and name), and
	// the pages are pre-rendered for anonymous visitors. What would let a
	// stranger write to or phish the team, the email addresses and who is
	// staff (the accounts worth attacking), is for signed-in members only.
	mizan.Query(app, s.currentUser, mizan.In(mizan.Global))
	mizan.Query(app, s.projects, mizan.In(BoardContext), mizan.Shared())
	mizan.Query(app, s.team, mizan.In(BoardContext), mizan.Shared())
	// Guarded: an anonymous fetch of ctx/directory/ is a 401, checked
	// before the origin cache, so a shared entry is never served to an
	// anonymous caller. Shared is still right: every member sees the same
	// directory.
	mizan.Query(app, s.members, mizan.In(DirectoryContext), mizan.Shared(), mizan.RequireAuth())
	mizan.Query(app, s.demoAccounts, mizan.In(DemoContext), mizan.Shared())
	mizan.Query(app, s.projectInfo, mizan.In(ProjectContext), mizan.Shared())
	mizan.Query(app, s.projectTasks, mizan.In(ProjectContext), mizan.Shared())
	mizan.Query(app, s.projectStats, mizan.In(ProjectContext), mizan.Shared())
	mizan.Query(app, s.taskDetail, mizan.In(TaskContext), mizan.Shared())
	mizan.Query(app, s.taskComments, mizan.In(TaskContext), mizan.Shared())

	// Writes. Every one needs a signed-in caller; the comments say what
	// each invalidates, as the X-Mizan-Invalidate header shows it.
	signedIn := mizan.RequireAuth()
	// add_task, edit_tasks and sign_in are forms (forms.go), registered
	// below once the pages that render them are.
	// project;project_id=N, task;task_id=M
	mizan.Mutation(app, s.moveTask, mizan.Affects(ProjectContext, TaskContext), signedIn)
	mizan.Mutation(app, s.assignTask, mizan.Affects(ProjectContext, TaskContext), signedIn)
	mizan.Mutation(app, s.deleteTask, mizan.Affects(ProjectContext, TaskContext), signedIn)
	// task;task_id=M, and the function project_tasks of project N (its
	// cards count comments): a function-level target.
	mizan.Mutation(app, s.addComment, mizan.Affects(TaskContext), mizan.AffectsFunction("project_tasks"), signedIn)
	// project_info of project N (function-level), board (broad: the
	// project list shows the name) and task (broad: a task's page shows
	// its project's name; the affects checker found it missing).
	mizan.Mutation(app, s.renameProject, mizan.AffectsFunction("project_info"), mizan.Affects(BoardContext, TaskContext), signedIn)
	// Staff only. board (broad); delete_project also project;project_id=N
	// and task (broad: any task of the project may be open).
	mizan.Mutation(app, s.createProject, mizan.Affects(BoardContext), mizan.RequireStaff())
	mizan.Mutation(app, s.deleteProject, mizan.Affects(BoardContext, ProjectContext, TaskContext), mizan.RequireStaff())
	// A name shows everywhere: global, board, project and task, all broad
	// (none of them has a user_id parameter to scope by); and directory,
	// which lists the members in name order (the affects checker found it
	// missing).
	mizan.Mutation(app, s.renameUser, mizan.Affects(mizan.Global, BoardContext, ProjectContext, TaskContext, DirectoryContext), signedIn)

	// A view-path page: plain server-rendered HTML on its own route, part
	// of the project context's invalidation graph.
	mizan.View(app, s.projectPrint, mizan.In(ProjectContext), mizan.Route("/projects/{project_id}/print/"))

	// Live updates: every open page subscribes over a WebSocket to the
	// context instances it shows, and is pushed the targets of every
	// mutation that hits them, whoever made it. In one process the hub
	// fans out in memory; with MIZAN_PUBSUB_REDIS_URL it would reach the
	// pages connected to other instances too (docs/live.md).
	hub, err := live.New(app, live.Options{Logger: cfg.logger})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("starting the live hub: %w", err)
	}
	// Server-rendered pages (pages.go): registered before Build, as views.
	var pages *ssr.Pages
	if cfg.ssr != nil {
		if pages, err = s.registerPages(app, cfg.ssr, cfg.logger); err != nil {
			_ = hub.Close()
			return nil, nil, nil, err
		}
	}
	s.registerForms(app, pages)
	// Sign-in with identity providers (oidc.go) and passkeys (passkeys.go),
	// besides the passwords of auth.go.
	for _, mount := range []func(*mizan.App, appConfig) error{s.mountOIDC, s.mountPasskeys} {
		if err := mount(app, cfg); err != nil {
			_ = hub.Close()
			if pages != nil {
				_ = pages.Close(context.Background())
			}
			return nil, nil, nil, err
		}
	}
	if err := app.Build(); err != nil {
		_ = hub.Close()
		if pages != nil {
			_ = pages.Close(context.Background())
		}
		return nil, nil, nil, fmt.Errorf("building the taskboard app: %w", err)
	}
	return app, hub, pages, nil
}
