package mizan_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/mizan-afi/mizan"
)

type Task struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
}

type BoardArgs struct {
	BoardID int `json:"board_id"`
}

type AddTaskArgs struct {
	BoardID int    `json:"board_id"`
	Title   string `json:"title" validate:"required"`
}

var tasks = map[int][]Task{1: {{ID: 1, Title: "Write docs"}}}

func boardTasks(_ context.Context, in BoardArgs) ([]Task, error) {
	return tasks[in.BoardID], nil
}

func addTask(_ context.Context, in AddTaskArgs) (Task, error) {
	t := Task{ID: len(tasks[in.BoardID]) + 1, Title: in.Title}
	tasks[in.BoardID] = append(tasks[in.BoardID], t)
	return t, nil
}

// A read grouped under a context and a mutation that affects it: the
// mutation's board_id argument scopes the invalidation to one board.
func Example() {
	const Board mizan.Context = "board"
	app := mizan.New(mizan.Config{})
	mizan.Query(app, boardTasks, mizan.In(Board))
	mizan.Mutation(app, addTask, mizan.Affects(Board))
	if err := app.Build(); err != nil {
		panic(err)
	}
	srv := httptest.NewServer(app)
	defer srv.Close()

	res, _ := http.Post(srv.URL+"/api/mizan/call/", "application/json",
		strings.NewReader(`{"fn":"add_task","args":{"board_id":1,"title":"Ship it"}}`))
	body, _ := io.ReadAll(res.Body)
	fmt.Println(res.Header.Get("X-Mizan-Invalidate"))
	fmt.Println(string(body))

	res, _ = http.Get(srv.URL + "/api/mizan/ctx/board/?board_id=1")
	body, _ = io.ReadAll(res.Body)
	fmt.Println(string(body))
	// Output:
	// board;board_id=1
	// {"result":{"id":2,"title":"Ship it"},"invalidate":[{"context":"board","params":{"board_id":1}}]}
	// {"board_tasks":[{"id":1,"title":"Write docs"},{"id":2,"title":"Ship it"}]}
}

// A function returns a *mizan.Error to choose the code and status the caller
// sees.
func ExampleNewError() {
	err := mizan.NewError(mizan.CodeConflict, "the task is already closed").
		WithFields(map[string]string{"task_id": "closed"})
	fmt.Println(err.Status(), err.Code(), err.Message(), err.Fields())
	// Output: 409 conflict the task is already closed map[task_id:closed]
}
