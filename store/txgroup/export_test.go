package txgroup

// Queued reports how many calls wait for the next transaction.
func Queued[T any](g *Group[T]) int {
	return g.q.Len()
}
