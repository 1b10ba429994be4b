package postgres_test

import (
	"testing"

	"omnihub/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.RunSuite(t, storetest.OpenPostgres)
}
