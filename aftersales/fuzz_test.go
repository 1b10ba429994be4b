package aftersales_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"omnihub/aftersales"
	"omnihub/channel"
	"omnihub/errs"
)

// FuzzCompileRule: any source either compiles to a boolean rule that
// evaluates without panicking, or is rejected as invalid input.
func FuzzCompileRule(f *testing.F) {
	for _, s := range []string{
		`type == "refund_only" && amount < 5000 && !shipped`,
		`reason contains "质量" || qty > 3`,
		`"SKU-A" in skus`, `amount / 0 > 1`, `lines`, `(((`, ``,
	} {
		f.Add(s)
	}
	samples := []aftersales.Case{
		{},
		{Type: aftersales.RefundOnly, RefundAmount: 100, Reason: "质量问题", Lines: []aftersales.Line{{SKUID: "SKU-A", Qty: 2}}},
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := aftersales.CompileRule(src)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("compile error %v is not invalid input", err)
			}
			return
		}
		for _, c := range samples {
			if _, err := p.Bool(aftersales.EnvOf(c, false)); err != nil && !errs.Is(err, errs.Invalid) {
				t.Fatalf("run error %v is not invalid input", err)
			}
		}
	})
}

// FuzzDecodeCase: a manual case or a platform refund decoded from outside
// JSON is either rejected with a typed error or fully valid.
func FuzzDecodeCase(f *testing.F) {
	f.Add([]byte(`{"shop_id":"S1","platform_order_id":"T1","type":"exchange","reason":"尺码","lines":[{"order_line":1,"qty":1,"new_sku_id":"X"}]}`))
	f.Add([]byte(`{"platform_refund_id":"R1","platform_order_id":"T1","kind":"refund_only","status":"requested","amount":100,"modified_at":"2026-11-11T00:00:00Z"}`))
	f.Add([]byte(`{"type":"swap","refund_amount":-1,"lines":[{"qty":0}]}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var n aftersales.NewCase
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if dec.Decode(&n) == nil {
			if err := n.Validate(); err != nil {
				if !errs.Is(err, errs.Invalid) || len(errs.FieldsOf(err)) == 0 {
					t.Fatalf("validation error without fields: %v", err)
				}
			} else if !n.Type.Valid() || n.ShopID == "" || n.PlatformOrderID == "" || n.RefundAmount < 0 {
				t.Fatalf("accepted invalid case %+v", n)
			}
		}
		var r channel.Refund
		if json.Unmarshal(data, &r) == nil {
			typ, err := aftersales.TypeFromPlatform(r.Kind)
			if err != nil {
				if !errs.Is(err, errs.Invalid) {
					t.Fatalf("kind error %v", err)
				}
				return
			}
			if _, err := aftersales.StateFromPlatform(typ, r.Status); err != nil && !errs.Is(err, errs.Invalid) {
				t.Fatalf("status error %v", err)
			}
		}
	})
}
