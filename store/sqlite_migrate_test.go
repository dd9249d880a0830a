package store

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		files   fstest.MapFS
		want    []int
		wantErr string
	}{
		{"ordered", fstest.MapFS{"m/0002_b.sql": file("B"), "m/0001_a.sql": file("A"), "m/README": file("")},
			[]int{1, 2}, ""},
		{"gap", fstest.MapFS{"m/0001_a.sql": file("A"), "m/0003_c.sql": file("C")}, nil, "expected version 2"},
		{"duplicate", fstest.MapFS{"m/0001_a.sql": file("A"), "m/0001_b.sql": file("B")}, nil, "expected version 2"},
		{"bad name", fstest.MapFS{"m/init.sql": file("A")}, nil, "NNNN_description.sql"},
		{"zero", fstest.MapFS{"m/0000_a.sql": file("A")}, nil, "NNNN_description.sql"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := loadMigrations(tc.files, "m")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, m := range ms {
				got = append(got, m.version)
			}
			if len(got) != len(tc.want) || got[0] != 1 || got[len(got)-1] != tc.want[len(tc.want)-1] {
				t.Fatalf("versions %v, want %v", got, tc.want)
			}
		})
	}
	// The embedded set itself must load.
	if _, err := loadMigrations(sqliteMigrations, "migrations/sqlite"); err != nil {
		t.Fatal(err)
	}
}
