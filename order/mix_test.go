package order

import (
	"context"
	"testing"
	"time"

	"omnihub/store"
	"omnihub/store/storetest"
)

// TestMixAutoPass is the acceptance figure: on a generated realistic mix at
// least 95% of clean orders pass untouched and every bad one is held with
// its reason.
func TestMixAutoPass(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		svc := New(db, Options{Stock: infiniteStock{}, DefaultWarehouse: "WH1"})
		n := 3000
		if testing.Short() {
			n = 1000
		}
		rep, err := RunMix(context.Background(), svc, "mix-shop", GenerateMix(n, 7, time.Now().UTC()), 250)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("mix figure (%s): %s", db.Engine(), rep)
		if rep.Bad < n*7/100 {
			t.Fatalf("mix has only %d bad orders of %d", rep.Bad, n)
		}
		for _, v := range rep.Violations() {
			t.Error(v)
		}
	})
}
