// Package schema holds the JSON Schemas (draft 2020-12) of Sundial's
// configuration files, embedded in the binary. They are the contract of the
// conf directory and its documentation: every property has a description, so
// editors (VS Code's JSON and YAML extensions) offer completion and hover
// help. `sundial schema <name>` prints one.
//
// Keywords starting with "x-" are Sundial annotations that validators ignore;
// "x-message" is the error message engine/config reports when a value fails
// the subschema that carries it.
package schema

import (
	"embed"
	"fmt"
	"sort"
	"strings"
)

//go:embed *.json
var files embed.FS

// BaseURL is the prefix of every schema's $id; the schema named n has the id
// BaseURL + n + ".json".
const BaseURL = "https://sundial.example/schema/"

// Names lists the schema names, sorted: "access", "job", "schedule",
// "scheduler".
func Names() []string {
	entries, _ := files.ReadDir(".") // the embedded root always exists
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Get returns the schema named name ("access", "job", "schedule" or
// "scheduler").
func Get(name string) ([]byte, error) {
	b, err := files.ReadFile(name + ".json")
	if err != nil {
		return nil, fmt.Errorf("unknown schema %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return b, nil
}

// URL returns the $id of the schema named name.
func URL(name string) string { return BaseURL + name + ".json" }
