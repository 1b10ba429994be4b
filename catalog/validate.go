package catalog

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"omnihub/errs"
)

// Limits on field values.
const (
	MaxCodeLen       = 64
	MaxNameLen       = 200 // runes
	MaxTextLen       = 100 // category, brand (runes)
	MaxImages        = 20
	MaxURLLen        = 1024
	MaxAttributes    = 30
	MaxAttrKeyLen    = 32  // runes
	MaxAttrValueLen  = 128 // runes
	MaxComponents    = 50
	MaxComponentQty  = 10_000
	MaxMoneyFen      = 1_000_000_000_000 // ten billion yuan
	MaxWeightG       = 10_000_000        // 10 t
	MaxVolumeCm3     = 100_000_000       // 100 m³
	DefaultCurrency  = "CNY"
	maxPlatformIDLen = 128
)

var (
	barcodeRe  = regexp.MustCompile(`^[0-9A-Za-z\-]{1,64}$`)
	currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)
)

// problems collects field-level validation failures into one errs.Invalid.
type problems struct {
	what   string
	fields map[string]string
	order  []string
}

func (p *problems) add(field, format string, args ...any) {
	if p.fields == nil {
		p.fields = map[string]string{}
	}
	if _, dup := p.fields[field]; dup {
		return
	}
	p.fields[field] = fmt.Sprintf(format, args...)
	p.order = append(p.order, field)
}

func (p *problems) err() error {
	if len(p.fields) == 0 {
		return nil
	}
	parts := make([]string, len(p.order))
	for i, f := range p.order {
		parts[i] = f + " " + p.fields[f]
	}
	e := errs.E(errs.Invalid, "%s: %s", p.what, strings.Join(parts, "; "))
	for f, r := range p.fields {
		e.WithField(f, r)
	}
	return e
}

func checkCode(p *problems, field, code string, required bool) {
	switch {
	case code == "":
		if required {
			p.add(field, "is required")
		}
	case len(code) > MaxCodeLen:
		p.add(field, "must be at most %d bytes", MaxCodeLen)
	case !utf8.ValidString(code):
		p.add(field, "must be valid UTF-8")
	default:
		for _, r := range code {
			if unicode.IsSpace(r) || unicode.IsControl(r) {
				p.add(field, "must not contain spaces or control characters")
				return
			}
		}
	}
}

func checkText(p *problems, field, v string, max int, required bool) {
	switch {
	case v == "" && required:
		p.add(field, "is required")
	case !utf8.ValidString(v):
		p.add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(v) > max:
		p.add(field, "must be at most %d characters", max)
	case strings.ContainsFunc(v, unicode.IsControl):
		p.add(field, "must not contain control characters")
	}
}

func checkImages(p *problems, field string, images []string) []string {
	if len(images) > MaxImages {
		p.add(field, "at most %d images", MaxImages)
		return images
	}
	out := make([]string, 0, len(images))
	for i, raw := range images {
		u := strings.TrimSpace(raw)
		if u == "" {
			continue
		}
		pu, err := url.Parse(u)
		if len(u) > MaxURLLen || err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			p.add(field, "image %d must be an http(s) URL of at most %d bytes", i+1, MaxURLLen)
			continue
		}
		out = append(out, u)
	}
	return out
}

func checkStatus(p *problems, st Status) Status {
	switch st {
	case "":
		return Active
	case Active, Inactive:
		return st
	}
	p.add("status", "must be active or inactive")
	return st
}

func checkAmount(p *problems, field string, v, max int64) {
	if v < 0 || v > max {
		p.add(field, "must be from 0 to %d", max)
	}
}

// normalizeProduct trims and validates a product.
func normalizeProduct(in ProductInput) (ProductInput, error) {
	p := problems{what: "invalid product"}
	in.Code = strings.TrimSpace(in.Code)
	in.Name = strings.TrimSpace(in.Name)
	in.Category = strings.TrimSpace(in.Category)
	in.Brand = strings.TrimSpace(in.Brand)
	checkCode(&p, "code", in.Code, true)
	checkText(&p, "name", in.Name, MaxNameLen, true)
	checkText(&p, "category", in.Category, MaxTextLen, false)
	checkText(&p, "brand", in.Brand, MaxTextLen, false)
	in.Images = checkImages(&p, "images", in.Images)
	in.Status = checkStatus(&p, in.Status)
	return in, p.err()
}

// normalizeSKU trims and validates what a SKU says about itself; whether its
// product and components exist is checked against the database.
func normalizeSKU(in SKUInput) (SKUInput, error) {
	p := problems{what: "invalid SKU"}
	in.Code = strings.TrimSpace(in.Code)
	in.Barcode = strings.TrimSpace(in.Barcode)
	in.Name = strings.TrimSpace(in.Name)
	in.ProductID = strings.TrimSpace(in.ProductID)
	in.Currency = strings.ToUpper(strings.TrimSpace(in.Currency))
	checkCode(&p, "code", in.Code, true)
	if in.Barcode != "" && !barcodeRe.MatchString(in.Barcode) {
		p.add("barcode", "must be 1 to 64 letters, digits or dashes")
	}
	checkText(&p, "name", in.Name, MaxNameLen, true)
	switch in.Kind {
	case "":
		in.Kind = Simple
	case Simple, Bundle:
	default:
		p.add("kind", "must be simple or bundle")
	}
	in.Attributes = checkAttributes(&p, in.Attributes)
	checkAmount(&p, "cost_fen", in.CostFen, MaxMoneyFen)
	checkAmount(&p, "price_fen", in.PriceFen, MaxMoneyFen)
	checkAmount(&p, "list_price_fen", in.ListPriceFen, MaxMoneyFen)
	if in.Currency == "" {
		in.Currency = DefaultCurrency
	} else if !currencyRe.MatchString(in.Currency) {
		p.add("currency", "must be a three-letter ISO 4217 code")
	}
	checkAmount(&p, "weight_g", in.WeightG, MaxWeightG)
	checkAmount(&p, "volume_cm3", in.VolumeCm3, MaxVolumeCm3)
	in.Images = checkImages(&p, "images", in.Images)
	in.Status = checkStatus(&p, in.Status)
	in.Components = checkComponents(&p, in.Kind, in.Components)
	return in, p.err()
}

func checkAttributes(p *problems, attrs map[string]string) map[string]string {
	out := make(map[string]string, len(attrs))
	if len(attrs) > MaxAttributes {
		p.add("attributes", "at most %d attributes", MaxAttributes)
		return out
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := strings.TrimSpace(attrs[k])
		k2 := strings.TrimSpace(k)
		switch {
		case k2 == "" || utf8.RuneCountInString(k2) > MaxAttrKeyLen || !utf8.ValidString(k2):
			p.add("attributes", "names must be 1 to %d characters", MaxAttrKeyLen)
		case strings.ContainsAny(k2, ":;：；=") || strings.ContainsAny(v, ";；"):
			p.add("attributes", "names must not contain ':' ';' '=' and values must not contain ';' (%q)", k2)
		case utf8.RuneCountInString(v) > MaxAttrValueLen || !utf8.ValidString(v):
			p.add("attributes", "value of %q must be at most %d characters", k2, MaxAttrValueLen)
		case strings.ContainsFunc(k2+v, unicode.IsControl):
			p.add("attributes", "must not contain control characters")
		default:
			if _, dup := out[k2]; dup {
				p.add("attributes", "%q is given twice", k2)
			}
			out[k2] = v
		}
	}
	return out
}

func checkComponents(p *problems, kind Kind, comps []Component) []Component {
	if kind != Bundle {
		if len(comps) > 0 {
			p.add("components", "only bundles have components")
		}
		return nil
	}
	if len(comps) == 0 {
		p.add("components", "a bundle needs at least one component")
		return nil
	}
	if len(comps) > MaxComponents {
		p.add("components", "at most %d components", MaxComponents)
		return comps
	}
	seen := map[string]bool{}
	out := make([]Component, 0, len(comps))
	for _, c := range comps {
		c.SKUID = strings.TrimSpace(c.SKUID)
		switch {
		case c.SKUID == "":
			p.add("components", "every component needs a sku_id")
		case c.Qty <= 0 || c.Qty > MaxComponentQty:
			p.add("components", "quantity of %s must be from 1 to %d", c.SKUID, MaxComponentQty)
		case seen[c.SKUID]:
			p.add("components", "%s is listed twice", c.SKUID)
		default:
			seen[c.SKUID] = true
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SKUID < out[j].SKUID })
	return out
}

func checkBindingKey(p *problems, shopID, itemID, platformSKUID string) {
	checkText(p, "shop_id", shopID, maxPlatformIDLen, true)
	checkText(p, "platform_item_id", itemID, maxPlatformIDLen, true)
	checkText(p, "platform_sku_id", platformSKUID, maxPlatformIDLen, false)
}
