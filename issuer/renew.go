package issuer

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/mholt/acmez/v3/acme"

	"github.com/dnscert/dnscert/storage"
)

// RenewalPolicy is the rule that decides when a stored certificate is due.
type RenewalPolicy struct {
	// Days, when positive, renews once fewer than that many days of
	// validity remain, without asking the CA.
	Days int
	// Force renews now.
	Force bool
	// Now is the current time; zero means time.Now.
	Now time.Time
}

// Decision is the outcome of a renewal check.
type Decision struct {
	Due    bool
	Reason string
	// Window is the CA's renewal window when it serves ARI, with the
	// instant chosen inside it; nil otherwise.
	Window *storage.RenewalWindow
	// Replaces is the ARI identifier of the certificate, to send in the
	// new order when the CA serves ARI (RFC 9773 section 5).
	Replaces string
}

// DecideRenewal checks whether the certificate in meta/leaf is due. It
// fetches the CA's renewal information (RFC 9773) first and marks the
// certificate due from a random instant inside the suggested window, kept
// while the window is unchanged. Without ARI, or when ARI fails, the
// certificate is due once a third of its lifetime remains.
func DecideRenewal(ctx context.Context, client *acme.Client, meta storage.Metadata, leaf *x509.Certificate, policy RenewalPolicy, logger *slog.Logger) Decision {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := policy.Now
	if now.IsZero() {
		now = time.Now()
	}
	remaining := leaf.NotAfter.Sub(now)
	left := fmt.Sprintf("%s left, expires %s", roundDays(remaining), leaf.NotAfter.UTC().Format(time.RFC3339))

	var d Decision
	dir, err := client.GetDirectory(ctx)
	if err == nil && dir.RenewalInfo != "" {
		d.Replaces = meta.ARICertID
	}

	switch {
	case policy.Force:
		d.Due, d.Reason = true, "forced with --force; "+left
		return d
	case meta.Revoked:
		d.Due, d.Reason = true, "the certificate was revoked"
		return d
	case policy.Days > 0:
		d.Due = remaining < time.Duration(policy.Days)*24*time.Hour
		d.Reason = fmt.Sprintf("%s, renewal set for %d days before expiry", left, policy.Days)
		return d
	}

	if d.Replaces != "" {
		ari, err := client.GetRenewalInfo(ctx, leaf)
		if err == nil && ari.HasWindow() && ari.SuggestedWindow.End.After(ari.SuggestedWindow.Start) {
			d.Window = chooseInstant(meta.RenewalWindow, ari)
			d.Due = !now.Before(d.Window.SelectedTime)
			d.Reason = fmt.Sprintf("CA renewal window %s to %s, renewing at %s; %s",
				d.Window.Start.UTC().Format(time.RFC3339), d.Window.End.UTC().Format(time.RFC3339),
				d.Window.SelectedTime.UTC().Format(time.RFC3339), left)
			if ari.ExplanationURL != "" {
				d.Reason += "; the CA explains: " + ari.ExplanationURL
			}
			return d
		}
		logger.LogAttrs(ctx, slog.LevelWarn, "renewal information unavailable, falling back to the certificate's lifetime",
			slog.String("certificate", meta.Name), slog.Any("error", err))
	}

	lifetime := leaf.NotAfter.Sub(leaf.NotBefore)
	d.Due = remaining < lifetime/3
	d.Reason = left + ", renewal set for when a third of the lifetime remains"
	return d
}

// chooseInstant keeps the instant chosen for the same window earlier, or
// draws a uniformly random one inside the new window.
func chooseInstant(prev *storage.RenewalWindow, ari acme.RenewalInfo) *storage.RenewalWindow {
	w := &storage.RenewalWindow{
		Start:          ari.SuggestedWindow.Start,
		End:            ari.SuggestedWindow.End,
		ExplanationURL: ari.ExplanationURL,
	}
	if prev != nil && prev.Start.Equal(w.Start) && prev.End.Equal(w.End) && !prev.SelectedTime.IsZero() {
		w.SelectedTime = prev.SelectedTime
		return w
	}
	// The acme client already drew an instant (and logged it); keep that
	// one so the log and the stored window agree.
	if sel := ari.SelectedTime; !sel.Before(w.Start) && sel.Before(w.End) {
		w.SelectedTime = sel.UTC()
		return w
	}
	span := w.End.Sub(w.Start)
	w.SelectedTime = w.Start.Add(time.Duration(rand.Int64N(int64(span)))).UTC().Truncate(time.Second)
	return w
}

func roundDays(d time.Duration) string {
	days := d.Hours() / 24
	if days < 2 {
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%.0f days", days)
}
