package rules

import (
	"testing"

	"omnihub/errs"
)

type doc struct {
	Note   string
	Amount int64
	Tags   []string
	Region string
}

func TestCompileAndRun(t *testing.T) {
	p, err := Compile(`containsAny(Note, ["发票", "加急"]) && Amount > 100`, doc{}, Bool)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := p.Bool(doc{Note: "请开发票", Amount: 200})
	if err != nil || !ok {
		t.Fatalf("Bool = %v, %v; want true", ok, err)
	}
	ok, _ = p.Bool(doc{Note: "无", Amount: 200})
	if ok {
		t.Fatal("want false for a note without keywords")
	}
	s := MustCompile(`Region == "华东" ? "WH-SH" : "WH-GZ"`, doc{}, String)
	if v, _ := s.String(doc{Region: "华东"}); v != "WH-SH" {
		t.Fatalf("String = %q", v)
	}
	m := MustCompile(`matchedWords(Note, ["改地址", "顺丰"])`, doc{}, Any)
	v, _ := m.Run(doc{Note: "发顺丰, 改地址"})
	if got, ok := v.([]string); !ok || len(got) != 2 {
		t.Fatalf("matchedWords = %#v", v)
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		src       string
		out       Output
		line, col int
	}{
		{"Amount >", Bool, 1, 7},
		{"Amount > 1 &&\n  Nope == 2", Bool, 2, 2},
		{`Amount + 1`, Bool, 0, 0},      // wrong output type
		{`Note == 3`, Bool, 1, 5},       // mismatched types
		{"", Bool, 0, 0},                // empty
		{`Region`, String, -1, -1},      // fine
		{`"x" + Note`, String, -1, -1},  // fine
		{`len(Tags) > 0`, Bool, -1, -1}, // fine
	}
	for _, tc := range cases {
		_, err := Compile(tc.src, doc{}, tc.out)
		if tc.line < 0 {
			if err != nil {
				t.Errorf("Compile(%q) = %v, want nil", tc.src, err)
			}
			continue
		}
		if !errs.Is(err, errs.Invalid) {
			t.Errorf("Compile(%q) = %v, want invalid", tc.src, err)
			continue
		}
		if errs.FieldsOf(err)["expression"] == "" {
			t.Errorf("Compile(%q): no expression field in %v", tc.src, err)
		}
		if tc.line > 0 {
			l, c, ok := PositionOf(err)
			if !ok || l != tc.line || c != tc.col {
				t.Errorf("Compile(%q) position = %d:%d (%v), want %d:%d; err %v", tc.src, l, c, ok, tc.line, tc.col, err)
			}
		}
	}
}

func TestRuntimeErrorIsInvalid(t *testing.T) {
	p := MustCompile(`Tags[5] == "x"`, doc{}, Bool)
	if _, err := p.Bool(doc{Tags: []string{"a"}}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("want invalid runtime error, got %v", err)
	}
}

func TestDryRun(t *testing.T) {
	r := DryRun(`Amount > 10`, doc{Amount: 11}, Bool)
	if r.Error != "" || r.Value != true {
		t.Fatalf("DryRun = %+v", r)
	}
	r = DryRun(`Amount >`, doc{}, Bool)
	if r.Error == "" || r.Line != 1 {
		t.Fatalf("DryRun of a broken rule = %+v", r)
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{`Amount > 1`, `containsAny(Note, ["发票"])`, `Tags[0] == "x"`, `(((`, `"\u0000"`, `Region matches "^(a|b)+$"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Compile(src, doc{}, Bool)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("Compile(%q) error %v is not invalid", src, err)
			}
			return
		}
		_, _ = p.Bool(doc{Note: "x", Amount: 1, Tags: []string{"a"}})
	})
}
