package promote

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// A pull request body stays below GitHub's 65,536 characters: the built
// diff is cut first, at a line, with a note; a body too long without it
// is cut with a note too.
func TestPullRequestBodyIsCapped(t *testing.T) {
	render := func(diff string) string {
		return "## canary(myapp): 5% -> 10%\n\n### Gates\n\nreport\n\n```diff\n" + diff + "```\n\n<sub>Promoter-Canary: myapp</sub>\n"
	}
	small := "-  weight: 5\n+  weight: 10\n"
	if got := fitBody(small, render); got != render(small) {
		t.Errorf("a small body was changed:\n%s", got)
	}
	var b strings.Builder
	for i := 0; b.Len() < 200000; i++ {
		b.WriteString("+  line of the built manifests ✓ " + strings.Repeat("x", i%40) + "\n")
	}
	diff := b.String()
	got := fitBody(diff, render)
	if len(got) > maxBody || utf8.RuneCountInString(got) >= 65536 {
		t.Fatalf("capped body has %d bytes", len(got))
	}
	if !strings.Contains(got, "the diff is cut here") || !strings.Contains(got, "<sub>Promoter-Canary: myapp</sub>") || !strings.Contains(got, "### Gates") {
		t.Errorf("the diff was not cut first, with a note, keeping the rest:\n%s", got[len(got)-600:])
	}
	i := strings.Index(got, "... the diff is cut here")
	if got[i-1] != '\n' || !strings.HasPrefix(diff, got[strings.Index(got, "```diff\n")+8:i]) {
		t.Error("the diff was not cut at a line boundary, or not kept from its start")
	}
	// Nothing to cut but the body itself.
	huge := func(string) string { return strings.Repeat("é", 40000) }
	got = fitBody("", huge)
	if len(got) > maxBody || !utf8.ValidString(got) || !strings.HasSuffix(got, "over GitHub's limit for a pull request body\n") {
		t.Errorf("a body too long without a diff: %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
}
