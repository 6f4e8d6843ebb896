package main

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/mizan-afi/mizan"
)

// printPage is the server-rendered project page: plain HTML, no script,
// laid out for paper.
var printPage = template.Must(template.New("print").Funcs(template.FuncMap{
	"date": func(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") },
}).Parse(`<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Project.Name}} · Taskboard</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1f2328; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
.meta, .empty { color: #59636e; } ul { padding-left: 1.2rem; } li { margin: .5rem 0; }
blockquote { margin: .3rem 0 .3rem 1rem; padding-left: .6rem; border-left: 3px solid #d0d7de; }
@media print { a.back { display: none; } body { margin: 0; } }
</style>
<p><a class="back" href="/projects/{{.Project.ID}}">← Back to the board</a></p>
<h1>{{.Project.Name}}</h1>
<p class="meta">{{.Project.Description}}</p>
<p class="meta">{{.Stats.Total}} tasks: {{.Stats.Todo}} to do, {{.Stats.Doing}} in progress, {{.Stats.Done}} done. Printed {{date .Now}}.</p>
{{range .Columns}}
<h2>{{.Title}} ({{len .Tasks}})</h2>
{{if .Tasks}}<ul>{{range .Tasks}}
<li><strong>{{.Card.Title}}</strong>{{with .Card.Assignee}} — {{.Name}}{{end}}
{{range .Comments}}<blockquote>{{.Body}}<br><small class="meta">{{.Author.Name}}, {{date .CreatedAt}}</small></blockquote>{{end}}
</li>{{end}}
</ul>{{else}}<p class="empty">Nothing here.</p>{{end}}
{{end}}
</html>
`))

// printTask is a task of the print page with its comments.
type printTask struct {
	Card     TaskCard
	Comments []TaskComment
}

// printColumn is one status of the print page.
type printColumn struct {
	Title string
	Tasks []printTask
}

// projectPrint is a view-path function: GET /projects/{project_id}/print/
// answers with a printable HTML page of the project, rendered on the
// server from the same functions the project context serves. It belongs to
// the project context, so project_id is a parameter of that context.
func (s *store) projectPrint(ctx context.Context, in ProjectArgs) (http.Handler, error) {
	p, err := s.projectInfo(ctx, in)
	if err != nil {
		return nil, err
	}
	stats, err := s.projectStats(ctx, in)
	if err != nil {
		return nil, err
	}
	cards, err := s.projectTasks(ctx, in)
	if err != nil {
		return nil, err
	}
	columns := []printColumn{{Title: "To do"}, {Title: "In progress"}, {Title: "Done"}}
	index := map[Status]int{StatusTodo: 0, StatusDoing: 1, StatusDone: 2}
	for _, c := range cards {
		t := printTask{Card: c}
		if c.Comments > 0 {
			if t.Comments, err = s.taskComments(ctx, TaskArgs{TaskID: c.ID}); err != nil {
				return nil, err
			}
		}
		i := index[c.Status]
		columns[i].Tasks = append(columns[i].Tasks, t)
	}
	var b bytes.Buffer
	err = printPage.Execute(&b, struct {
		Project Project
		Stats   Stats
		Columns []printColumn
		Now     time.Time
	}{p, stats, columns, s.now()})
	if err != nil {
		return nil, fmt.Errorf("rendering the print page of project %d: %w", in.ProjectID, err)
	}
	return noStore(mizan.HTML(http.StatusOK, b.String())), nil
}

// noStore marks a page as not to be kept by HTTP caches: it changes with
// every mutation of its project.
func noStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}
