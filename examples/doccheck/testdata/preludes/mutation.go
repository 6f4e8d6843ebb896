// A fragment of a quickstart mutation's body: its statements run inside a
// method of the store that returns (OK, error), after the task was found:
// b is its board and i its index in b.tasks.
package doccheck

import "context"

func (s *store) doccheckMutation(ctx context.Context, in TaskArgs) (OK, error) {
	var b *board
	var i int
	doccheckBody()
	b.tasks[i].Done = true
	return OK{true}, nil
}
