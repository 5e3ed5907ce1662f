package migration

import (
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	ms, err := Load(fstest.MapFS{
		"m/0010_later.sql": {Data: []byte("B")},
		"m/0002_first.sql": {Data: []byte("A")},
	}, "m")
	if err != nil || len(ms) != 2 || ms[0].Version != 2 || ms[0].SQL != "A" || ms[1].Name != "0010_later.sql" {
		t.Fatalf("Load = %+v, %v", ms, err)
	}
	for name, files := range map[string]fstest.MapFS{
		"duplicate version": {"m/0001_a.sql": {}, "m/1_b.sql": {}},
		"no number":         {"m/init.sql": {}},
		"zero":              {"m/0000_a.sql": {}},
		"not sql":           {"m/0001_a.txt": {}},
	} {
		if _, err := Load(files, "m"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
