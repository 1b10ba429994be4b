// Package e2e holds after-sales end-to-end tests through the platform
// simulators: a platform refund is read by the connector, applied, decided,
// answered through the durable job and the connector, and read back, with
// real inventory underneath. It has no non-test code.
package e2e
