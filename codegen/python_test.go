package codegen

import (
	"context"
	"strings"
	"testing"

	"github.com/mizan-afi/mizan/ir"
)

func TestPySnake(t *testing.T) {
	for in, want := range map[string]string{
		"user_id": "user_id", "userID": "user_id", "user-id": "user_id", "createdAt": "created_at",
		"HTTPServer": "http_server", "2fa": "f_2fa", "-": "f", "class": "class_", "from": "from_", "v2Name": "v2_name",
	} {
		if got := pyAttr(in); got != want {
			t.Errorf("pyAttr(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPythonShapes checks the Python the target writes for shapes the
// golden cases do not hold: integer enums, string-encoded bools and integers,
// and names taken by the module.
func TestPythonShapes(t *testing.T) {
	i64 := ir.Scalar(ir.Int64)
	str := ir.Scalar(ir.String)
	doc := &ir.Document{Version: ir.Version, Types: []ir.TypeDef{
		{Name: "Level", Underlying: &i64, Enum: []string{"-1", "0", "1"}},
		{Name: "MizanError", Fields: []ir.Field{
			{Name: "flag", Type: ir.Scalar(ir.Bool), String: true},
			{Name: "level", Type: ir.TypeRef{Kind: ir.Ref, Name: "Level"}, Optional: true},
			{Name: "n", Type: ir.TypeRef{Kind: ir.Int64, Nullable: true}, String: true, Optional: true},
			{Name: "str", Type: str},
		}},
	}}
	files, err := Python(context.Background(), doc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	src := string(files[0].Content)
	for _, want := range []string{
		PythonHeader + "\n",
		"class Level(enum.IntEnum):\n",
		"    VMINUS_1 = -1\n    V0 = 0\n    V1 = 1\n",
		"class MizanError2:\n",
		"flag=_bool_s(_req(d, \"flag\")),",
		"level=_opt(d.get(\"level\"), lambda v: _enum(Level, v)),",
		"n=_opt(d.get(\"n\"), _int_s),",
		"    n: Optional[int] = None\n",
		"    str2: str\n",
		"d[\"flag\"] = _bool_s_out(self.flag)",
		"d[\"level\"] = self.level",
		"d[\"n\"] = _opt(self.n, _int_s_out)",
	} {
		if !strings.Contains(src, want) {
			t.Errorf("the module lacks %q:\n%s", want, src)
		}
	}
}
