// Package mask hides personal data (names, phone numbers, addresses, e-mail)
// for people and logs that must not see it in full. Masks keep enough to
// recognise a record (surname, phone prefix and last four digits, the
// region of an address) and work on runes, so Chinese text is cut between
// characters, never inside one.
//
// Use it with auth.CanSeePII: show the value when that is true, the mask
// otherwise. Masking is deliberately idempotent: masking a mask is a no-op
// in effect.
package mask

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Phone masks a phone number, keeping the first three and the last four
// digits of an 11-digit mobile number ("13812345678" → "138****5678").
// Shorter numbers keep at most their last four digits; non-digit
// separators are dropped from the mask.
func Phone(s string) string {
	var digits []rune
	prefix := ""
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "+") {
		// Keep an international prefix such as +86 visible.
		if cc, rest, ok := strings.Cut(s, " "); ok && len(cc) <= 4 {
			prefix, s = cc+" ", rest
		}
	}
	for _, r := range s {
		if r >= '0' && r <= '9' || r == '*' {
			digits = append(digits, r)
		}
	}
	n := len(digits)
	switch {
	case n == 0:
		return prefix
	case n >= 11:
		return prefix + string(digits[:3]) + strings.Repeat("*", n-7) + string(digits[n-4:])
	case n > 4:
		return prefix + strings.Repeat("*", n-4) + string(digits[n-4:])
	default:
		return prefix + strings.Repeat("*", n)
	}
}

// Name masks a person's name, keeping its first character (the surname in
// Chinese): "张三丰" → "张**", "李四" → "李*", "Alice Smith" → "A**********".
func Name(s string) string {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return ""
	}
	first, _ := utf8.DecodeRuneInString(s)
	if n == 1 {
		return "*"
	}
	return string(first) + strings.Repeat("*", n-1)
}

// Address masks a street address, keeping the administrative part (up to
// and including the district or county: 区, 县, 旗, 市) and hiding the rest:
// "浙江省杭州市西湖区文三路100号" → "浙江省杭州市西湖区******". An address
// without a recognisable region keeps its first six characters.
func Address(s string) string {
	s = strings.TrimSpace(s)
	rs := []rune(s)
	if len(rs) == 0 {
		return ""
	}
	keep := -1
	for i, r := range rs {
		if i > 20 {
			break
		}
		switch r {
		case '区', '县', '旗':
			keep = i + 1
		case '市', '省':
			if keep < i+1 {
				keep = i + 1
			}
		}
		if keep > 0 && (r == '区' || r == '县' || r == '旗') {
			break
		}
	}
	if keep <= 0 {
		keep = min(6, len(rs)/2)
	}
	if keep >= len(rs) {
		return s
	}
	return string(rs[:keep]) + strings.Repeat("*", min(len(rs)-keep, 6))
}

// Email masks the local part of an address: "alice@example.com" → "a****@example.com".
func Email(s string) string {
	local, domain, ok := strings.Cut(strings.TrimSpace(s), "@")
	if !ok {
		return Name(s)
	}
	return Name(local) + "@" + domain
}

// Text masks anything else that is personal (an ID number, a buyer's
// nickname): the first and last character stay when the text is long enough.
func Text(s string) string {
	rs := []rune(strings.TrimSpace(s))
	switch {
	case len(rs) == 0:
		return ""
	case len(rs) <= 2:
		return strings.Repeat("*", len(rs))
	}
	last := rs[len(rs)-1]
	if unicode.IsSpace(last) {
		last = '*'
	}
	return string(rs[0]) + strings.Repeat("*", len(rs)-2) + string(last)
}
