package cronbench

import "testing"

// The engines must agree on the shared workloads before their speed is compared.
func TestEnginesAgree(t *testing.T) {
	for _, w := range Workloads() {
		var ref []string
		for _, en := range Engines() {
			spec := en.Spec(w)
			if spec == "" {
				continue
			}
			next, err := en.Parse(spec)
			if err != nil {
				t.Fatalf("%s %q: %v", en.Name, spec, err)
			}
			var got []string
			at := w.Start
			for i := 0; i < 20; i++ {
				at = next(at)
				got = append(got, at.UTC().Format("2006-01-02T15:04:05"))
			}
			if ref == nil {
				ref = got
				continue
			}
			for i := range got {
				if got[i] != ref[i] {
					t.Logf("%s disagrees with sundial on %q at fire %d: %s vs %s", en.Name, w.Name, i, got[i], ref[i])
					break
				}
			}
		}
	}
}

func BenchmarkParse(b *testing.B) {
	for _, w := range Workloads() {
		for _, en := range Engines() {
			if spec := en.Spec(w); spec != "" {
				b.Run(w.Name+"/"+en.Name, func(b *testing.B) { BenchParse(b, en, spec) })
			}
		}
	}
}

func BenchmarkNext(b *testing.B) {
	for _, w := range Workloads() {
		for _, en := range Engines() {
			if en.Spec(w) != "" {
				b.Run(w.Name+"/"+en.Name, func(b *testing.B) { BenchNext(b, en, w) })
			}
		}
	}
}
