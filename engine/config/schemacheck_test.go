package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"sundial/schema"
)

// TestSplitValidationMatchesPublishedSchema checks that validating a
// schedule in two steps ($defs/schedule, then the invokeContext schema of
// its service) accepts and rejects exactly what the published schema does.
func TestSplitValidationMatchesPublishedSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	for _, name := range schema.Names() {
		b, _ := schema.Get(name)
		if err := c.AddResource(schema.URL(name), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	full, err := c.Compile(schema.URL("schedule"))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("testdata/*/*.json")
	yamls, _ := filepath.Glob("testdata/*/*.yaml")
	corpus, _ := filepath.Glob(filepath.Join(corpusDir, "*schedule-*.json"))
	files = append(append(files, yamls...), corpus...)
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "scheduler.json") || strings.Contains(filepath.Base(f), "scheduler-") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ctx := &fileCtx{file: f}
		root := ctx.decode(data, strings.HasSuffix(f, ".yaml"), &properties{env: noEnv, defaults: builtinProperties("h")}, substituted{})
		if root == nil || len(ctx.errs) > 0 {
			continue
		}
		ctx.validateSchema("schedule", root)
		split := len(ctx.errs) == 0
		published := full.Validate(root.value()) == nil
		if split != published {
			t.Errorf("%s: split validation says valid=%v, the published schema %v (%v)", f, split, published, ctx.errs)
		}
		checked++
	}
	if checked < 20 {
		t.Errorf("checked only %d files", checked)
	}
}
