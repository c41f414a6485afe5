package promote

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/promoter-dev/promoter/internal/gates"
	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/spec"
	"github.com/promoter-dev/promoter/templates"
)

// commitBody explains a stage commit: what (the change's summary) and why,
// with the gate evidence.
func commitBody(summary string, reasons []string, report *gates.Report) string {
	data := struct {
		Summary  string
		Reasons  []string
		Evidence string
	}{Summary: summary, Reasons: reasons}
	if report != nil {
		data.Evidence = evidenceText(report)
	}
	var b bytes.Buffer
	if err := templates.Prose.ExecuteTemplate(&b, "commit-body.tmpl", data); err != nil {
		return data.Summary // the templates are compiled in; this cannot fail for valid data
	}
	return strings.TrimSpace(b.String())
}

// evidenceText is a compact plain-text gate summary for commit messages.
func evidenceText(r *gates.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Gates at %d%% (%s, %0.f canary requests):", r.Weight, r.Verdict, r.CanaryRequests)
	for _, g := range append(append([]gates.GateResult{}, r.Gates...), r.RollbackOn...) {
		fmt.Fprintf(&b, "\n  %-13s %-12s %s", g.Verdict, g.Name, g.Message)
	}
	return b.String()
}

type scheduleRow struct {
	Step   int
	Weight int
	Pause  string
	Mark   string
}

// pullRequestBody renders a stage pull request's body: the gate report,
// the step schedule with progress, the diff of the built manifests, and the
// commit trailers. ch may be nil when only the report is refreshed.
func (p *Promoter) pullRequestBody(ctx context.Context, c *spec.Canary, base string, ch *gitops.Change, report *gates.Report) string {
	data := struct {
		Title, Summary, Report, Diff, Trailers string
		Reasons                                []string
		Schedule                               []scheduleRow
	}{Title: "canary(" + c.Metadata.Name + ")"}
	step := -1
	if ch != nil {
		data.Title = ch.Message.Subject
		data.Summary = ch.Message.Body
		t := ch.Message.Trailers
		data.Trailers = fmt.Sprintf("%s: %s · %s: %d · %s: %s", gitops.TrailerCanary, t.Canary, gitops.TrailerStep, t.Step, gitops.TrailerAction, t.Action)
		step = t.Step
		data.Diff = p.builtDiff(ctx, c, base, ch)
	}
	if report != nil {
		var b bytes.Buffer
		if err := report.WriteMarkdown(&b); err == nil {
			data.Report = b.String()
		}
		if ch == nil {
			data.Summary = fmt.Sprintf("Gate report refreshed at %s.", report.Stage.Now.UTC().Format("2006-01-02 15:04 MST"))
		}
	}
	for i, s := range c.Spec.Steps {
		row := scheduleRow{Step: i + 1, Weight: s.Weight, Pause: s.Pause.Duration.String()}
		switch {
		case i+1 == step:
			row.Mark = "⬅ this pull request"
		case report != nil && s.Weight == report.Weight:
			row.Mark = "live"
		}
		data.Schedule = append(data.Schedule, row)
	}
	data.Schedule = append(data.Schedule, scheduleRow{Step: len(c.Spec.Steps) + 1, Weight: 100, Pause: "-", Mark: markIf(step == len(c.Spec.Steps)+1, "⬅ this pull request (promotion)")})
	return fitBody(data.Diff, func(diff string) string {
		data.Diff = diff
		var b bytes.Buffer
		if err := templates.Prose.ExecuteTemplate(&b, "pull-request.md.tmpl", data); err != nil {
			return data.Title + "\n\n" + data.Summary
		}
		return b.String()
	})
}

// maxBody keeps a pull request body below GitHub's limit of 65,536
// characters (counted here in bytes, never fewer than the characters).
const maxBody = 65000

// fitBody renders a body with diff, cutting the diff first (at a line,
// with a note where it was cut), and only then the body itself, so that
// it fits in maxBody.
func fitBody(diff string, render func(diff string) string) string {
	body := render(diff)
	if len(body) <= maxBody {
		return body
	}
	if diff != "" {
		keep := len(diff) - (len(body) - maxBody) - 200 // room for the note
		cut := 0
		if keep > 0 {
			cut = strings.LastIndexByte(diff[:keep], '\n') + 1
		}
		rest := strings.Count(diff[cut:], "\n")
		body = render(diff[:cut] + fmt.Sprintf("... the diff is cut here: %d more lines, over GitHub's limit for a pull request body; `promoter plan` prints it whole\n", rest))
		if len(body) <= maxBody {
			return body
		}
	}
	const note = "\n\n... cut here: the body is over GitHub's limit for a pull request body\n"
	end := maxBody - len(note)
	for end > 0 && !utf8.RuneStart(body[end]) {
		end--
	}
	return body[:end] + note
}

func markIf(ok bool, s string) string {
	if ok {
		return s
	}
	return ""
}
