// Package sheet reads and writes the tabular files merchants exchange with
// OmniHub: Excel workbooks (.xlsx, through excelize) and CSV.
//
// A sheet is a header row followed by data rows. A Schema maps header names
// (including aliases such as Chinese column titles) to canonical column keys,
// so that callers work with Row.Get("code") whatever the merchant's template
// calls the column. Reading never stops at the first problem: every
// row-level problem is collected as a RowError (row number, column, reason)
// into a *Report, so that a person can fix the whole file in one go. Domain
// packages add their own RowErrors while validating the rows and decide to
// write nothing while the report is not empty.
//
// The package owns no business rules; catalog and inventory describe their
// columns with a Schema and interpret the values.
package sheet

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"omnihub/errs"
)

// Format is a file format.
type Format string

const (
	XLSX Format = "xlsx"
	CSV  Format = "csv"
)

// Limits that keep a hostile or accidental upload from exhausting memory.
const (
	// MaxBytes is the largest file Read accepts.
	MaxBytes = 64 << 20
	// MaxRows is the largest number of data rows Read accepts.
	MaxRows = 200_000
	// MaxColumns is the widest header Read accepts.
	MaxColumns = 256
	// MaxCell is the longest cell value Read accepts, in bytes.
	MaxCell = 8 << 10
	// maxUnzipped bounds the decompressed size of an .xlsx (zip bombs).
	maxUnzipped = 512 << 20
)

// ParseFormat accepts "xlsx" or "csv" (any case, with or without a dot).
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), ".")) {
	case "xlsx":
		return XLSX, nil
	case "csv":
		return CSV, nil
	}
	return "", errs.WithField("format", fmt.Sprintf("must be xlsx or csv, not %q", s))
}

// FormatOf picks a format from a file name's extension, or failing that from a
// MIME content type. Either may be empty.
func FormatOf(name, contentType string) (Format, error) {
	if ext := filepath.Ext(name); ext != "" {
		if f, err := ParseFormat(ext); err == nil {
			return f, nil
		}
	}
	ct := strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	switch ct {
	case "text/csv", "application/csv", "text/comma-separated-values":
		return CSV, nil
	case "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
		return XLSX, nil
	}
	return "", errs.E(errs.Invalid, "cannot tell the file format of %q (%q): use .xlsx or .csv", name, contentType).
		WithField("format", "must be xlsx or csv")
}

// ContentType is the MIME type of a format.
func (f Format) ContentType() string {
	if f == XLSX {
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return "text/csv; charset=utf-8"
}

// Column describes one column a schema understands.
type Column struct {
	// Key is the canonical name callers use (Row.Get) and the header that
	// Write emits.
	Key string
	// Aliases are other accepted header names (e.g. 商家编码 for code).
	// Matching ignores case, surrounding spaces and the difference between
	// full-width and ASCII brackets.
	Aliases []string
	// Required columns must be present in the header (their cells may still
	// be empty; whether a value is required is the caller's rule).
	Required bool
}

// Schema is the set of columns a sheet may have.
type Schema struct {
	Columns []Column
	// AllowUnknown ignores header cells that match no column; by default an
	// unknown column is reported, because a misspelt header would otherwise
	// silently drop that column's data.
	AllowUnknown bool
}

// Keys returns the canonical keys in schema order.
func (s Schema) Keys() []string {
	out := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		out[i] = c.Key
	}
	return out
}

func normHeader(h string) string {
	h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
	h = strings.NewReplacer("（", "(", "）", ")", " ", "", "\u3000", "", "_", "", "-", "").Replace(h)
	return strings.ToLower(h)
}

func (s Schema) lookup() map[string]string {
	m := make(map[string]string, len(s.Columns)*3)
	for _, c := range s.Columns {
		m[normHeader(c.Key)] = c.Key
		for _, a := range c.Aliases {
			m[normHeader(a)] = c.Key
		}
	}
	return m
}

// Row is one data row.
type Row struct {
	// Num is the row's number in the sheet as a person sees it: the header
	// is row 1, the first data row is row 2.
	Num    int
	Values map[string]string
}

// Get returns the trimmed value of a column ("" when absent or empty).
func (r Row) Get(key string) string { return r.Values[key] }

// Has reports whether the sheet has the column at all.
func (r Row) Has(key string) bool {
	_, ok := r.Values[key]
	return ok
}

// RowError is one problem with one row (Row 1 is the header).
type RowError struct {
	Row    int    `json:"row"`
	Column string `json:"column,omitempty"`
	Reason string `json:"reason"`
}

func (e RowError) String() string {
	if e.Column == "" {
		return fmt.Sprintf("row %d: %s", e.Row, e.Reason)
	}
	return fmt.Sprintf("row %d, column %s: %s", e.Row, e.Column, e.Reason)
}

// Report collects the RowErrors of a whole sheet. A non-empty Report is an
// error with code errs.Invalid (see Err).
type Report struct {
	Errors []RowError `json:"errors"`
}

// Add records a problem.
func (r *Report) Add(row int, column, format string, args ...any) {
	r.Errors = append(r.Errors, RowError{Row: row, Column: column, Reason: fmt.Sprintf(format, args...)})
}

// Empty reports whether nothing was recorded.
func (r *Report) Empty() bool { return r == nil || len(r.Errors) == 0 }

// Sort orders the errors by row, then column.
func (r *Report) Sort() {
	sort.SliceStable(r.Errors, func(i, j int) bool {
		a, b := r.Errors[i], r.Errors[j]
		if a.Row != b.Row {
			return a.Row < b.Row
		}
		return a.Column < b.Column
	})
}

// Rows lists the distinct row numbers with problems, ascending.
func (r *Report) Rows() []int {
	seen := map[int]bool{}
	var out []int
	for _, e := range r.Errors {
		if !seen[e.Row] {
			seen[e.Row] = true
			out = append(out, e.Row)
		}
	}
	sort.Ints(out)
	return out
}

// Err returns the report as an error, or nil when it is empty.
func (r *Report) Err() error {
	if r.Empty() {
		return nil
	}
	r.Sort()
	return &ReportError{Report: r}
}

// ReportError is a rejected sheet. Its code is errs.Invalid; callers that can
// show a list (HTTP problem+json, the CLI) find it with errors.As.
type ReportError struct{ Report *Report }

func (e *ReportError) Error() string {
	n := len(e.Report.Errors)
	var b strings.Builder
	fmt.Fprintf(&b, "sheet rejected: %d problem(s) in %d row(s)", n, len(e.Report.Rows()))
	for i, re := range e.Report.Errors {
		if i == 3 {
			fmt.Fprintf(&b, "; …")
			break
		}
		b.WriteString("; ")
		b.WriteString(re.String())
	}
	return b.String()
}

// Unwrap gives the report its errs code (Invalid) without losing the list.
func (e *ReportError) Unwrap() error {
	return &errs.Error{Code: errs.Invalid, Message: e.Error()}
}

// ReportOf returns the report carried by err, if any.
func ReportOf(err error) (*Report, bool) {
	var re *ReportError
	if errors.As(err, &re) {
		return re.Report, true
	}
	return nil, false
}

// Read parses a whole sheet. Structural problems (unreadable file, missing
// or unknown header columns, malformed CSV lines, oversized cells) are
// returned as a *ReportError listing all of them; a file that cannot be
// opened at all gives a plain errs.Invalid error. Empty rows are skipped.
func Read(r io.Reader, f Format, schema Schema) ([]Row, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "read sheet")
	}
	if len(data) > MaxBytes {
		return nil, errs.E(errs.Invalid, "sheet is larger than %d MiB", MaxBytes>>20)
	}
	var records func(yield func(record) bool)
	switch f {
	case CSV:
		records = csvRecords(data)
	case XLSX:
		records, err = xlsxRecords(data)
		if err != nil {
			return nil, err
		}
	default:
		return nil, errs.WithField("format", fmt.Sprintf("must be xlsx or csv, not %q", f))
	}
	return collect(records, schema)
}

func collect(records func(yield func(record) bool), schema Schema) ([]Row, error) {
	var (
		rep     Report
		rows    []Row
		header  []string // canonical key per column index ("" = ignored)
		haveHdr bool
		tooMany bool
	)
	lookup := schema.lookup()
	for rec := range records {
		num, cells, err := rec.num, rec.cells, rec.err
		if err != nil {
			rep.Add(num, "", "%s", err.Error())
			continue
		}
		if !haveHdr {
			if blank(cells) {
				continue // leading empty lines before the header
			}
			haveHdr = true
			header = mapHeader(num, cells, schema, lookup, &rep)
			if header == nil {
				return nil, rep.Err()
			}
			continue
		}
		if blank(cells) {
			continue
		}
		if len(rows) >= MaxRows {
			tooMany = true
			break
		}
		row := Row{Num: num, Values: make(map[string]string, len(header))}
		for i, key := range header {
			if key != "" {
				row.Values[key] = ""
			}
			if i < len(cells) && key != "" {
				v := strings.TrimSpace(cells[i])
				if len(v) > MaxCell {
					rep.Add(num, key, "value is longer than %d bytes", MaxCell)
					v = ""
				}
				row.Values[key] = v
			}
		}
		for i := len(header); i < len(cells); i++ {
			if strings.TrimSpace(cells[i]) != "" {
				rep.Add(num, "", "cell %d has a value but no header", i+1)
				break
			}
		}
		rows = append(rows, row)
	}
	if !haveHdr {
		rep.Add(1, "", "the sheet is empty: a header row is required")
	}
	if tooMany {
		rep.Add(0, "", "the sheet has more than %d data rows", MaxRows)
	}
	if err := rep.Err(); err != nil {
		return nil, err
	}
	return rows, nil
}

// mapHeader returns the canonical key of every header cell, reporting
// unknown, duplicate and missing columns. It returns nil when the header is
// unusable.
func mapHeader(num int, cells []string, schema Schema, lookup map[string]string, rep *Report) []string {
	if len(cells) > MaxColumns {
		rep.Add(num, "", "the header has more than %d columns", MaxColumns)
		return nil
	}
	before := len(rep.Errors)
	keys := make([]string, len(cells))
	seen := map[string]int{}
	for i, c := range cells {
		name := strings.TrimSpace(strings.TrimPrefix(c, "\ufeff"))
		if name == "" {
			continue
		}
		key, ok := lookup[normHeader(name)]
		if !ok {
			if !schema.AllowUnknown {
				rep.Add(num, name, "unknown column")
			}
			continue
		}
		if j, dup := seen[key]; dup {
			rep.Add(num, name, "column %s appears twice (columns %d and %d)", key, j+1, i+1)
			continue
		}
		seen[key] = i
		keys[i] = key
	}
	for _, c := range schema.Columns {
		if _, ok := seen[c.Key]; c.Required && !ok {
			rep.Add(num, c.Key, "required column is missing")
		}
	}
	if len(rep.Errors) > before {
		return nil
	}
	return keys
}

func blank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// record is one raw line of a sheet with its number, or the problem reading it.
type record struct {
	num   int
	cells []string
	err   error
}

// csvRecords yields CSV records with their line numbers. Input that is not
// UTF-8 is decoded as GB18030, the encoding Excel uses for CSV on Chinese
// Windows; a UTF-8 byte-order mark is dropped.
func csvRecords(data []byte) func(yield func(record) bool) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if !utf8.Valid(data) {
		if dec, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data); err == nil {
			data = dec
		}
	}
	return func(yield func(record) bool) {
		cr := csv.NewReader(bytes.NewReader(data))
		cr.FieldsPerRecord = -1
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				return
			}
			if err != nil {
				line := 0
				var pe *csv.ParseError
				if errors.As(err, &pe) {
					line = pe.StartLine
					err = pe.Err
				}
				if !yield(record{line, nil, fmt.Errorf("malformed CSV: %v", err)}) {
					return
				}
				// encoding/csv cannot resynchronise reliably after a quote
				// error; one report for the file is enough.
				return
			}
			line, _ := cr.FieldPos(0)
			if len(rec) > MaxColumns {
				if !yield(record{line, nil, fmt.Errorf("more than %d columns", MaxColumns)}) {
					return
				}
				continue
			}
			if !yield(record{line, rec, nil}) {
				return
			}
		}
	}
}

// xlsxRecords yields the rows of the workbook's first sheet with their row
// numbers; empty rows inside the sheet are yielded as empty records.
func xlsxRecords(data []byte) (func(yield func(record) bool), error) {
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		RawCellValue: true, UnzipSizeLimit: maxUnzipped, UnzipXMLSizeLimit: 16 << 20,
	})
	if err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "not a readable .xlsx workbook")
	}
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		f.Close()
		return nil, errs.E(errs.Invalid, "the workbook has no sheets")
	}
	rows, err := f.Rows(sheets[0])
	if err != nil {
		f.Close()
		return nil, errs.Wrap(err, errs.Invalid, "read sheet %q", sheets[0])
	}
	return func(yield func(record) bool) {
		defer f.Close()
		defer rows.Close()
		num := 0
		for rows.Next() {
			num++
			if num > MaxRows+1 {
				// Row numbers come from the file: a tiny sheet can claim row
				// 1,048,576 and make the iterator walk every empty row before it.
				yield(record{num, nil, fmt.Errorf("the sheet is longer than %d rows", MaxRows+1)})
				return
			}
			cells, err := rows.Columns(excelize.Options{RawCellValue: true})
			if err != nil {
				yield(record{num, nil, fmt.Errorf("unreadable row: %v", err)})
				return
			}
			if len(cells) > MaxColumns {
				trailing := cells[MaxColumns:]
				if !blank(trailing) {
					if !yield(record{num, nil, fmt.Errorf("more than %d columns", MaxColumns)}) {
						return
					}
					continue
				}
				cells = cells[:MaxColumns]
			}
			if !yield(record{num, cells, nil}) {
				return
			}
		}
		if err := rows.Error(); err != nil {
			yield(record{num + 1, nil, fmt.Errorf("unreadable sheet: %v", err)})
		}
	}, nil
}

// Write writes a header and rows. Every cell is written as text, so codes
// and barcodes keep their leading zeros and long digits in Excel.
func Write(w io.Writer, f Format, header []string, rows [][]string) error {
	switch f {
	case CSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(header); err != nil {
			return errs.Wrap(err, errs.Internal, "write csv")
		}
		for _, r := range rows {
			if err := cw.Write(r); err != nil {
				return errs.Wrap(err, errs.Internal, "write csv")
			}
		}
		cw.Flush()
		return errs.Wrap(cw.Error(), errs.Internal, "write csv")
	case XLSX:
		return writeXLSX(w, header, rows)
	}
	return errs.WithField("format", fmt.Sprintf("must be xlsx or csv, not %q", f))
}

func writeXLSX(w io.Writer, header []string, rows [][]string) error {
	x := excelize.NewFile()
	defer x.Close()
	name := x.GetSheetName(0)
	sw, err := x.NewStreamWriter(name)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "write xlsx")
	}
	line := func(n int, cells []string) error {
		vals := make([]any, len(cells))
		for i, c := range cells {
			vals[i] = excelize.Cell{Value: c}
		}
		cell, err := excelize.CoordinatesToCellName(1, n)
		if err != nil {
			return err
		}
		return sw.SetRow(cell, vals)
	}
	if err := line(1, header); err != nil {
		return errs.Wrap(err, errs.Internal, "write xlsx header")
	}
	for i, r := range rows {
		if err := line(i+2, r); err != nil {
			return errs.Wrap(err, errs.Internal, "write xlsx row %d", i+2)
		}
	}
	if err := sw.Flush(); err != nil {
		return errs.Wrap(err, errs.Internal, "write xlsx")
	}
	return errs.Wrap(x.Write(w), errs.Internal, "write xlsx")
}
