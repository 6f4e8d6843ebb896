package affects

import (
	"slices"
	"strings"
	"testing"
)

func writes(ws ...string) []Write {
	var out []Write
	for _, w := range ws {
		name, cols, ok := strings.Cut(w, ":")
		wr := Write{Table: name}
		if ok {
			wr.Columns = strings.Split(cols, ",")
		}
		out = append(out, wr)
	}
	return out
}

func TestParse(t *testing.T) {
	cases := []struct {
		sql    string
		reads  []string
		writes []Write
		star   bool
	}{
		{sql: "SELECT id, name FROM users ORDER BY name", reads: []string{"users"}},
		{sql: "select * from Tasks t left join users u on u.id = t.assignee_id", reads: []string{"tasks", "users"}, star: true},
		{sql: `SELECT t.id, (SELECT count(*) FROM comments c WHERE c.task_id = t.id) FROM tasks t LEFT JOIN users u ON u.id = t.assignee_id`, reads: []string{"comments", "tasks", "users"}},
		{sql: "SELECT EXISTS (SELECT 1 FROM tasks WHERE id = ?)", reads: []string{"tasks"}},
		{sql: "SELECT a.x FROM a, b AS bb, main.c WHERE a.id = bb.id", reads: []string{"a", "b", "c"}},
		{sql: `SELECT * FROM public."Order Items" oi JOIN "sales".orders o USING (order_id)`, reads: []string{"Order Items", "sales.orders"}, star: true},
		{sql: "SELECT `x` FROM `weird``name` JOIN [br acket] ON 1", reads: []string{"br acket", "weird`name"}},
		{sql: "SELECT extract(year FROM created_at), substring(s FROM 2), trim(leading 'x' FROM s) FROM events", reads: []string{"events"}},
		{sql: "SELECT a IS DISTINCT FROM b FROM t", reads: []string{"t"}},
		{sql: "SELECT * FROM json_each(?) j JOIN generate_series(1, 3) g ON 1", star: true},
		{sql: "WITH recent AS (SELECT * FROM tasks WHERE created_at > ?), x AS (SELECT 1) SELECT * FROM recent JOIN x ON 1", reads: []string{"tasks"}, star: true},
		{sql: "SELECT 'FROM fake', \"from\" FROM real -- FROM commented\n /* JOIN hidden /* nested */ still */", reads: []string{"real"}},
		{sql: "SELECT $$ FROM dollar $$, $tag$ JOIN x $tag$, E'it\\'s FROM esc' FROM t WHERE a = $1", reads: []string{"t"}},
		{sql: "INSERT INTO tasks (project_id, title) VALUES (?, ?)", writes: writes("tasks")},
		{sql: "INSERT OR REPLACE INTO settings(key, value) VALUES ('a', 'b')", writes: writes("settings")},
		{sql: "REPLACE INTO kv VALUES (1, 2)", writes: writes("kv")},
		{sql: "INSERT INTO archive SELECT * FROM tasks WHERE status = 'done'", reads: []string{"tasks"}, writes: writes("archive"), star: true},
		{sql: "INSERT INTO t (k, v) VALUES (1, 2) ON CONFLICT (k) DO UPDATE SET v = excluded.v", writes: writes("t")},
		{sql: "UPDATE tasks SET status = ?, title = ? WHERE id = ?", writes: writes("tasks:status,title")},
		{sql: "UPDATE OR IGNORE main.users SET (name, email) = (?, ?) WHERE id = ?", writes: writes("users:email,name")},
		{sql: `UPDATE ONLY public."Tasks" AS t SET "Title" = x.y FROM other x WHERE x.id = t.id`, reads: []string{"other"}, writes: writes("Tasks:title")},
		{sql: "DELETE FROM tasks WHERE id = ?", writes: writes("tasks")},
		{sql: "DELETE FROM only orders o USING users u WHERE o.user_id = u.id", reads: []string{"users"}, writes: writes("orders")},
		{sql: "TRUNCATE TABLE a, b", writes: writes("a", "b")},
		{sql: "MERGE INTO stock s USING deliveries d ON s.id = d.id WHEN MATCHED THEN UPDATE SET qty = s.qty + d.qty", reads: []string{"deliveries"}, writes: writes("stock")},
		{sql: "WITH moved AS (UPDATE tasks SET project_id = 2 WHERE id = 1 RETURNING id) SELECT * FROM moved", writes: writes("tasks:project_id"), star: true},
		{sql: "SELECT * FROM t FOR UPDATE", reads: []string{"t"}, star: true},
		{sql: "CREATE TABLE c (id INTEGER REFERENCES p(id) ON DELETE CASCADE ON UPDATE SET NULL)"},
		{sql: "UPDATE a SET x = 1; DELETE FROM b; SELECT y FROM c", reads: []string{"c"}, writes: writes("a:x", "b")},
		{sql: "PRAGMA user_version"},
		{sql: ""},
		{sql: "SELECT * FROM", star: true},
		{sql: "UPDATE"},
		{sql: "select 'unterminated FROM x"},
	}
	for _, c := range cases {
		st := Parse(c.sql)
		if !slices.Equal(st.Reads, c.reads) {
			t.Errorf("%s\n\treads %q, want %q", c.sql, st.Reads, c.reads)
		}
		if !slices.EqualFunc(st.Writes, c.writes, func(a, b Write) bool { return a.Table == b.Table && slices.Equal(a.Columns, b.Columns) }) {
			t.Errorf("%s\n\twrites %+v, want %+v", c.sql, st.Writes, c.writes)
		}
		if st.Star != c.star {
			t.Errorf("%s\n\tstar %v, want %v", c.sql, st.Star, c.star)
		}
	}
	if w := Parse("SELECT id, email FROM users ORDER BY name").Words; !w["name"] || !w["email"] || w["title"] {
		t.Errorf("words %v", w)
	}
}

// FuzzParse checks that Parse never panics, that what it finds are names
// the text holds, and that a table put after FROM is found.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM t", "INSERT INTO a (x) VALUES (1)", "UPDATE b SET c = 1", "DELETE FROM d",
		"WITH x AS (SELECT 1 FROM y) SELECT * FROM x JOIN z ON 1", `SELECT "a""b" FROM [c] JOIN ` + "`d`",
		"SELECT $a$ x $a$ FROM e /* /* */ */ -- f", "E'\\''", "TRUNCATE ONLY g, h", "MERGE INTO i USING j",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st := Parse(s)
		lower := strings.ToLower(s)
		quoted := strings.ContainsAny(s, "\"`[")
		for _, name := range st.Reads {
			if name == "" || (!quoted && !strings.Contains(lower, strings.ToLower(lastPart(name)))) {
				t.Errorf("%q: read %q is not in the text", s, name)
			}
		}
		for _, w := range st.Writes {
			if w.Table == "" || (!quoted && !strings.Contains(lower, strings.ToLower(lastPart(w.Table)))) {
				t.Errorf("%q: write %q is not in the text", s, w.Table)
			}
		}
		// A clean statement after it: its table is found.
		if !strings.ContainsAny(s, "'\"`[$-/") {
			st := Parse(s + ";\nSELECT 1 FROM fuzz_table_x")
			if !slices.Contains(st.Reads, "fuzz_table_x") && !strings.Contains(lower, "with") && !strings.Contains(lower, "(") {
				t.Errorf("%q: the appended FROM fuzz_table_x is not found: %v", s, st.Reads)
			}
		}
	})
}

func lastPart(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 && i < len(name)-1 {
		return name[i+1:]
	}
	return name
}
