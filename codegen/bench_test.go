package codegen_test

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/mizan-afi/mizan/codegen"
	"github.com/mizan-afi/mizan/ir"
)

// syntheticSpecs describes an app of nFuncs functions whose arguments and
// results reach nTypes distinct struct types: each type has scalar, list,
// record, pointer and time fields, and most hold two others; the
// functions are spread over 50 contexts (reads), standalone reads and
// mutations that affect the contexts.
func syntheticSpecs(nFuncs, nTypes int) []ir.FunctionSpec {
	types := make([]reflect.Type, nTypes)
	for i := range types {
		fields := []reflect.StructField{
			{Name: "ID", Type: reflect.TypeFor[int64](), Tag: `json:"id"`},
			{Name: "Name", Type: reflect.TypeFor[string](), Tag: `json:"name"`},
			{Name: "Note", Type: reflect.TypeFor[*string](), Tag: `json:"note,omitempty"`},
			{Name: "Tags", Type: reflect.TypeFor[[]string](), Tag: `json:"tags"`},
			{Name: "Scores", Type: reflect.TypeFor[map[string]float64](), Tag: `json:"scores"`},
			{Name: "At", Type: reflect.TypeFor[time.Time](), Tag: `json:"at"`},
			{Name: "Seq", Type: reflect.TypeFor[int](), Tag: reflect.StructTag(fmt.Sprintf(`json:"seq_%d"`, i))},
		}
		// Types from 30 on hold two of the first 30: a reference graph two
		// levels deep (reflect.StructOf types spell their fields out in
		// their names, so deeper nesting would make huge names).
		if i >= 30 {
			fields = append(fields,
				reflect.StructField{Name: "Prev", Type: reflect.PointerTo(types[i%30]), Tag: `json:"prev"`},
				reflect.StructField{Name: "Items", Type: reflect.SliceOf(types[(i/30+i)%30]), Tag: `json:"items"`})
		}
		types[i] = reflect.StructOf(fields)
	}
	argTypes := []reflect.Type{
		reflect.TypeFor[struct {
			UserID int `json:"user_id"`
		}](),
		reflect.TypeFor[struct {
			UserID int    `json:"user_id"`
			Page   int    `json:"page,omitempty"`
			Status string `json:"status"`
		}](),
	}
	specs := make([]ir.FunctionSpec, nFuncs)
	for i := range specs {
		s := ir.FunctionSpec{
			Name:   fmt.Sprintf("function_%04d", i),
			Args:   argTypes[i%2],
			Result: types[i%nTypes],
		}
		switch i % 3 {
		case 0:
			s.Kind, s.Context = ir.KindQuery, fmt.Sprintf("context_%02d", i%50)
		case 1:
			s.Kind = ir.KindMutation
			s.Affects = []ir.Affect{{Context: fmt.Sprintf("context_%02d", i%50), ScopedBy: []string{"user_id"}}}
		default:
			s.Kind = ir.KindQuery
		}
		specs[i] = s
	}
	return specs
}

// pipeline exports the IR of specs (build and encode), reads it back, and
// generates every target from it, as "mizan generate" does.
func pipeline(tb testing.TB, specs []ir.FunctionSpec) (kdl []byte, files int) {
	doc, err := ir.Build(specs, ir.Options{Prefix: "/api/mizan/"})
	if err != nil {
		tb.Fatal(err)
	}
	kdl, err = ir.Encode(doc)
	if err != nil {
		tb.Fatal(err)
	}
	parsed, err := ir.Parse(kdl)
	if err != nil {
		tb.Fatal(err)
	}
	for _, target := range codegen.Targets() {
		fs, err := codegen.Generate(context.Background(), parsed, target, codegen.Options{})
		if err != nil {
			tb.Fatal(err)
		}
		files += len(fs)
	}
	return kdl, files
}

func TestSyntheticAppSize(t *testing.T) {
	doc, err := ir.Build(syntheticSpecs(1000, 300), ir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Functions) != 1000 || len(doc.Types) != 300 {
		t.Fatalf("%d functions, %d types", len(doc.Functions), len(doc.Types))
	}
}

// BenchmarkExportIR is the IR export of a 1,000-function, 300-type app:
// reflection, naming and KDL encoding.
func BenchmarkExportIR(b *testing.B) {
	specs := syntheticSpecs(1000, 300)
	b.ReportAllocs()
	for b.Loop() {
		doc, err := ir.Build(specs, ir.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ir.Encode(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseIR reads the IR of the synthetic app back.
func BenchmarkParseIR(b *testing.B) {
	doc, _ := ir.Build(syntheticSpecs(1000, 300), ir.Options{})
	src, _ := ir.Encode(doc)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ir.Parse(src); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerate generates each target for the synthetic app.
func BenchmarkGenerate(b *testing.B) {
	doc, _ := ir.Build(syntheticSpecs(1000, 300), ir.Options{})
	for _, target := range codegen.Targets() {
		b.Run(target, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := codegen.Generate(context.Background(), doc, target, codegen.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPipeline is everything for the synthetic app: export, encode,
// parse and all three targets. It reports peak-heap-MB, the most heap the
// pipeline holds at once, measured with the collector off (so it is an
// upper bound: garbage included).
func BenchmarkPipeline(b *testing.B) {
	specs := syntheticSpecs(1000, 300)
	b.ReportAllocs()
	for b.Loop() {
		pipeline(b, specs)
	}
	b.StopTimer()
	b.ReportMetric(peakHeapMB(func() { pipeline(b, specs) }), "peak-heap-MB")
}

// peakHeapMB runs f with the garbage collector off and returns how much the
// heap grew, in MiB.
func peakHeapMB(f func()) float64 {
	runtime.GC()
	old := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(old)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
}
