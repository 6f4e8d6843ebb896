// For docs/database.md: the notes app's database and names.
package doccheck

import (
	"database/sql"

	"github.com/mizan-afi/mizan"
)

const Notes mizan.Context = "notes"

var db *sql.DB
