package schema

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestEveryPropertyHasADescription keeps the schemas usable as
// documentation: editors show the description on hover and completion.
func TestEveryPropertyHasADescription(t *testing.T) {
	names := Names()
	if fmt.Sprint(names) != "[access job managed provisioner schedule scheduler sync]" {
		t.Fatalf("Names() = %v", names)
	}
	for _, name := range names {
		b, err := Get(name)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if doc["$id"] != URL(name) || doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $id %v, $schema %v", name, doc["$id"], doc["$schema"])
		}
		var walk func(v any, path string)
		walk = func(v any, path string) {
			switch v := v.(type) {
			case map[string]any:
				if props, ok := v["properties"].(map[string]any); ok {
					for k, p := range props {
						if m, _ := p.(map[string]any); m["description"] == nil {
							t.Errorf("%s: %s/properties/%s has no description", name, path, k)
						}
					}
				}
				for k, c := range v {
					if k == "properties" {
						// A map of property names to schemas: walk the
						// schemas, not the map (a property may be called
						// "properties").
						if props, ok := c.(map[string]any); ok {
							for pk, pc := range props {
								walk(pc, path+"/properties/"+pk)
							}
							continue
						}
					}
					walk(c, path+"/"+k)
				}
			case []any:
				for i, c := range v {
					walk(c, fmt.Sprintf("%s/%d", path, i))
				}
			}
		}
		walk(doc, "#")
	}
	if _, err := Get("nope"); err == nil {
		t.Error("Get of an unknown schema succeeded")
	}
}
