package txgroup

// Queued reports how many calls wait for the next transaction.
func Queued[T any](g *Group[T]) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}
