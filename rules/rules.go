// Package rules is OmniHub's expression environment: business rules (order
// audit, warehouse routing, courier choice, after-sales auto-approval) are
// stored as text in the expr language (github.com/expr-lang/expr), compiled
// and type-checked against the document they judge when they are saved, and
// evaluated against each document. A rule that does not compile never
// reaches the database; a syntax error carries its line and column.
package rules

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"omnihub/errs"
)

// Output is the type a rule must produce.
type Output string

const (
	Bool   Output = "bool"   // a condition: audit holds, route/courier "when"
	String Output = "string" // a value: a warehouse id, a courier code, a tag
	Any    Output = "any"
)

// Limits that keep a hostile or careless rule from costing much.
const (
	MaxSourceBytes = 4096
	MaxNodes       = 1000
)

// Error is a compile error with its position (1-based line, 0-based column in
// runes, as expr reports it).
type Error struct {
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
	Snippet string `json:"snippet,omitempty"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Message)
}

// PositionOf returns the position of a compile error, if err carries one.
func PositionOf(err error) (line, column int, ok bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Line, e.Column, true
	}
	return 0, 0, false
}

// Program is a compiled rule.
type Program struct {
	Source string
	Output Output
	prog   *vm.Program
}

// functions available to every rule, besides expr's builtins.
func functions() []expr.Option {
	return []expr.Option{
		expr.Function("containsAny", func(params ...any) (any, error) {
			s, _ := params[0].(string)
			for _, w := range words(params[1]) {
				if w != "" && strings.Contains(s, w) {
					return true, nil
				}
			}
			return false, nil
		}, new(func(string, []any) bool), new(func(string, []string) bool)),
		expr.Function("matchedWords", func(params ...any) (any, error) {
			s, _ := params[0].(string)
			var out []string
			for _, w := range words(params[1]) {
				if w != "" && strings.Contains(s, w) {
					out = append(out, w)
				}
			}
			return out, nil
		}, new(func(string, []any) []string), new(func(string, []string) []string)),
	}
}

// words accepts a list literal ([]any) or a []string field.
func words(v any) []string {
	switch l := v.(type) {
	case []string:
		return l
	case []any:
		out := make([]string, 0, len(l))
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Compile parses and type-checks src against env (a value of the type the
// rule will be evaluated with). Errors are errs.Invalid with field
// "expression" and wrap *Error when the position is known.
func Compile(src string, env any, out Output) (*Program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errs.WithField("expression", "is empty")
	}
	if len(src) > MaxSourceBytes {
		return nil, errs.WithField("expression", fmt.Sprintf("is longer than %d bytes", MaxSourceBytes))
	}
	if !utf8.ValidString(src) {
		return nil, errs.WithField("expression", "is not valid UTF-8")
	}
	opts := append(functions(), expr.Env(env), expr.MaxNodes(MaxNodes))
	switch out {
	case Bool:
		opts = append(opts, expr.AsBool())
	case String:
		opts = append(opts, expr.AsKind(reflect.String))
	case Any, "":
		out = Any
	default:
		return nil, errs.E(errs.Invalid, "unknown rule output %q", out)
	}
	prog, err := compile(src, opts)
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			pe := &Error{Line: fe.Line, Column: fe.Column, Message: fe.Message, Snippet: fe.Snippet}
			e := errs.E(errs.Invalid, "expression does not compile").WithField("expression", pe.Error())
			e.Err = pe
			return nil, e
		}
		return nil, errs.WithField("expression", err.Error())
	}
	return &Program{Source: src, Output: out, prog: prog}, nil
}

// compile guards against panics inside the compiler on hostile input.
func compile(src string, opts []expr.Option) (p *vm.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("compiler failed: %v", r)
		}
	}()
	return expr.Compile(src, opts...)
}

// MustCompile is Compile for built-in rules; it panics on error.
func MustCompile(src string, env any, out Output) *Program {
	p, err := Compile(src, env, out)
	if err != nil {
		panic(err)
	}
	return p
}

// Run evaluates the rule. A runtime failure (nil map access, division by
// zero) is errs.Invalid: the rule, not the document, needs fixing.
func (p *Program) Run(env any) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, errs.E(errs.Invalid, "rule failed: %v", r)
		}
	}()
	v, err = expr.Run(p.prog, env)
	if err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "rule failed")
	}
	return v, nil
}

// Bool evaluates a condition.
func (p *Program) Bool(env any) (bool, error) {
	v, err := p.Run(env)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, errs.E(errs.Invalid, "rule returned %T, want bool", v)
	}
	return b, nil
}

// String evaluates a value rule.
func (p *Program) String(env any) (string, error) {
	v, err := p.Run(env)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", errs.E(errs.Invalid, "rule returned %T, want string", v)
	}
	return s, nil
}

// DryRunResult is what a rule does to a sample document.
type DryRunResult struct {
	Value any    `json:"value"`
	Error string `json:"error,omitempty"`
	// Position of a compile error.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
}

// DryRun compiles src and evaluates it against sample without storing
// anything. Compile and runtime errors are reported in the result, not as
// an error, so that an editor can show them next to the rule.
func DryRun(src string, sample any, out Output) DryRunResult {
	p, err := Compile(src, sample, out)
	if err != nil {
		r := DryRunResult{Error: errs.MessageOf(err)}
		r.Line, r.Column, _ = PositionOf(err)
		return r
	}
	v, err := p.Run(sample)
	if err != nil {
		return DryRunResult{Error: errs.MessageOf(err)}
	}
	return DryRunResult{Value: v}
}
