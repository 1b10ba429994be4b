package mask

import "testing"

func TestMasks(t *testing.T) {
	cases := []struct {
		fn       func(string) string
		in, want string
	}{
		{Phone, "13812345678", "138****5678"},
		{Phone, "138-1234-5678", "138****5678"},
		{Phone, "+86 13812345678", "+86 138****5678"},
		{Phone, "0571-8888", "****8888"},
		{Phone, "123", "***"},
		{Phone, "", ""},
		{Phone, "138****5678", "138****5678"},
		{Name, "张三丰", "张**"},
		{Name, "李四", "李*"},
		{Name, "王", "*"},
		{Name, "Alice", "A****"},
		{Name, "", ""},
		{Address, "浙江省杭州市西湖区文三路100号", "浙江省杭州市西湖区******"},
		{Address, "上海市浦东新区世纪大道1号", "上海市浦东新区******"},
		{Address, "云南省大理白族自治州大理市下关镇1号", "云南省大理白族自治州大理市*****"},
		{Address, "1 Infinite Loop, Cupertino", "1 Infi******"},
		{Address, "", ""},
		{Email, "alice@example.com", "a****@example.com"},
		{Text, "110101199003074518", "1****************8"},
	}
	for _, c := range cases {
		if got := c.fn(c.in); got != c.want {
			t.Errorf("mask(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzMask: no mask of arbitrary input panics or produces more
// runes than the input has (one more for a kept separator).
func FuzzMask(f *testing.F) {
	for _, s := range []string{"13812345678", "张三丰", "浙江省杭州市西湖区文三路100号", "\xff\xfe", "+86 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, fn := range []func(string) string{Phone, Name, Address, Email, Text} {
			out := fn(s)
			if len([]rune(out)) > len([]rune(s))+1 {
				t.Fatalf("mask of %q grew to %q", s, out)
			}
		}
	})
}
