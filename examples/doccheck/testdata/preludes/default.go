// The default prelude: what a Go fragment of the docs may use without
// declaring it. It mirrors the quickstart app (examples/quickstart): a
// store of boards whose methods are server functions, its argument and
// result types, and the usual variables of a main function (app, ctx,
// logger, ...). A fragment's own top-level declarations replace the ones of
// the same name here, and imports it does not use are not an error.
package doccheck

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/auth"
	"github.com/mizan-afi/mizan/auth/mwt"
	"github.com/mizan-afi/mizan/auth/session"
	"github.com/mizan-afi/mizan/cache"
	"github.com/mizan-afi/mizan/cache/cachetest"
	"github.com/mizan-afi/mizan/cache/redis"
	"github.com/mizan-afi/mizan/client"
	"github.com/mizan-afi/mizan/edge"
	"github.com/mizan-afi/mizan/live"
	"github.com/mizan-afi/mizan/protocol"
	"github.com/mizan-afi/mizan/ssr"
)

// The variables of a main function or a handler.
var (
	app    *mizan.App
	ctx    context.Context
	logger *slog.Logger
	r      *http.Request
	hub    *live.Hub
	pages  *ssr.Pages
	c      *cache.Cache
	token  string // an access token
	secret []byte // a secret of 32 bytes or more

	jwtKey       []byte
	mwtSecret    []byte
	sessionStore session.Store
)

// The contexts.
const (
	Board   mizan.Context = "board"
	Books   mizan.Context = "books"
	Project mizan.Context = "project"
	Account mizan.Context = "account"
)

// The quickstart's data and server functions.
type (
	Task struct {
		ID        int    `json:"id"`
		Title     string `json:"title"`
		Done      bool   `json:"done"`
		CreatedBy string `json:"created_by"`
	}
	board struct {
		name  string
		tasks []Task
	}
	store struct {
		boards map[int]*board
	}
	BoardArgs struct {
		BoardID int `json:"board_id"`
	}
	BoardInfo struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	AddTaskArgs struct {
		BoardID int    `json:"board_id"`
		Title   string `json:"title" validate:"required,max=200"`
	}
	TaskArgs struct {
		BoardID int `json:"board_id"`
		TaskID  int `json:"task_id"`
	}
	OK struct {
		OK bool `json:"ok"`
	}
	SearchArgs struct {
		Query string `json:"query"`
	}
)

func (s *store) boardInfo(context.Context, BoardArgs) (BoardInfo, error)    { return BoardInfo{}, nil }
func (s *store) boardTasks(context.Context, BoardArgs) ([]Task, error)      { return nil, nil }
func (s *store) addTask(context.Context, AddTaskArgs) (Task, error)         { return Task{}, nil }
func (s *store) boardPage(context.Context, BoardArgs) (http.Handler, error) { return nil, nil }
func (s *store) completeTask(context.Context, TaskArgs) (OK, error)         { return OK{}, nil }
func search(context.Context, SearchArgs) ([]Task, error)                    { return nil, nil }
func healthz(w http.ResponseWriter, r *http.Request)                        {}
func fromProxy(remoteAddr string) bool                                      { return false }

var s *store

// A book shelf, for the invalidation examples.
type (
	Book struct {
		ID      int `json:"id"`
		ShelfID int `json:"shelf_id"`
	}
	BookListArgs struct {
		ShelfID int    `json:"shelf_id"`
		Status  string `json:"status,omitempty" mizan:"filter"`
	}
	SetStatusArgs struct {
		BookID int    `json:"book_id"`
		Status string `json:"status"`
	}
	DeleteBookArgs struct {
		BookID int `json:"book_id"`
	}
)

func bookList(context.Context, BookListArgs) ([]Book, error) { return nil, nil }
func setStatus(context.Context, SetStatusArgs) (OK, error)   { return OK{}, nil }

// The application's own data access, for the sign-in examples.
type (
	database struct{}
	dbUser   struct {
		ID           int
		Staff, Admin bool
	}
	SignInArgs struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
)

func (database) UserByName(ctx context.Context, name string) (dbUser, error) { return dbUser{}, nil }
func (database) Book(ctx context.Context, id int) (Book, error)              { return Book{}, nil }
func (database) DeleteBook(ctx context.Context, id int) error                { return nil }
func (dbUser) PasswordMatches(password string) bool                          { return false }

var db database

func checkPassword(ctx context.Context, username, password string) (*auth.User, error) {
	return nil, nil
}
