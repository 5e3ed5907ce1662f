package dockerfile

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int    // line number where the instruction starts
	cmd  string // upper-cased keyword: FROM, RUN, USER…
	args string // the rest of the instruction
}

// stage is the instructions from one FROM up to the next.
type stage struct {
	from  instruction
	instr []instruction
}

// parse splits text into instructions, joining lines that end in a
// backslash and dropping comments and blank lines, then groups them into
// stages at each FROM. Instructions before the first FROM (global ARGs,
// say) are returned apart.
func parse(text string) (global []instruction, stages []stage) {
	var all []instruction
	var cur strings.Builder
	start := 0
	flush := func() {
		s := strings.TrimSpace(cur.String())
		cur.Reset()
		if s == "" {
			return
		}
		cmd, args, _ := strings.Cut(s, " ")
		all = append(all, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
	}
	for i, raw := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line := strings.TrimSpace(strings.ReplaceAll(raw, "\t", " "))
		// Comment lines are dropped, also inside a continued instruction.
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if body, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(strings.TrimSpace(body))
			cur.WriteString(" ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush() // a last line that ended in a backslash

	for _, in := range all {
		if in.cmd == "FROM" {
			stages = append(stages, stage{from: in})
			continue
		}
		if len(stages) == 0 {
			global = append(global, in)
			continue
		}
		s := &stages[len(stages)-1]
		s.instr = append(s.instr, in)
	}
	return global, stages
}

// fromImage is the image a FROM names, without --platform or AS name.
func fromImage(args string) string {
	for _, f := range strings.Fields(args) {
		if strings.HasPrefix(f, "--") {
			continue
		}
		return strings.ToLower(f)
	}
	return ""
}

// argv is an exec-form (JSON array) instruction's words, or a shell
// form's whitespace-separated words.
func argv(args string) []string {
	if strings.HasPrefix(args, "[") {
		var words []string
		if json.Unmarshal([]byte(args), &words) == nil {
			return words
		}
	}
	return strings.Fields(args)
}

// last is the last instruction cmd in s, or nil.
func (s stage) last(cmd string) *instruction {
	for i := len(s.instr) - 1; i >= 0; i-- {
		if s.instr[i].cmd == cmd {
			return &s.instr[i]
		}
	}
	return nil
}

var (
	cgoOff   = regexp.MustCompile(`\bCGO_ENABLED(=|\s+)["']?0["']?(\s|$|;|&)`)
	remoteRe = regexp.MustCompile(`(?i)^["']?https?://`)
)

// check returns what is wrong with the Dockerfile text, nothing when it is
// fit to ship.
func check(text string) []string {
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }

	global, stages := parse(text)
	for _, in := range global {
		if in.cmd != "ARG" {
			bad("line %d: %s before the first FROM", in.line, in.cmd)
		}
	}
	if len(stages) < 2 {
		bad("not a multi-stage build: want a build stage and a final stage, found %d FROM", len(stages))
	}
	if len(stages) == 0 {
		return problems
	}

	for _, s := range stages {
		for _, in := range s.instr {
			if in.cmd != "ADD" {
				continue
			}
			for _, w := range argv(in.args) {
				if remoteRe.MatchString(w) {
					bad("line %d: ADD fetches a URL (%s); download in a RUN with a checksum instead", in.line, w)
				}
			}
		}
	}

	final := stages[len(stages)-1]
	if img := fromImage(final.from.args); img != "scratch" && !strings.Contains(img, "distroless/static") {
		bad("final stage is FROM %s, want gcr.io/distroless/static… or scratch", img)
	}

	cgo := false
	for _, s := range stages[:len(stages)-1] {
		for _, in := range s.instr {
			if (in.cmd == "RUN" || in.cmd == "ENV" || in.cmd == "ARG") && cgoOff.MatchString(in.args+" ") {
				cgo = true
			}
		}
	}
	if !cgo {
		bad("no build stage sets CGO_ENABLED=0: the binary must be static to run on distroless/static or scratch")
	}

	if u := final.last("USER"); u == nil {
		bad("final stage has no USER: the server would run as root")
	} else {
		name, _, _ := strings.Cut(strings.Trim(u.args, `"'`), ":")
		if name == "" || name == "root" || name == "0" {
			bad("line %d: final stage runs as USER %s, want a non-root user", u.line, u.args)
		}
	}

	if h := final.last("HEALTHCHECK"); h == nil {
		bad("final stage has no HEALTHCHECK")
	} else if strings.EqualFold(strings.TrimSpace(h.args), "NONE") {
		bad("line %d: HEALTHCHECK NONE turns the health check off", h.line)
	} else if !strings.Contains(h.args, "CMD") {
		bad("line %d: HEALTHCHECK without CMD", h.line)
	}

	if final.last("VOLUME") == nil {
		bad("final stage has no VOLUME for the data directory")
	}

	if e := final.last("ENTRYPOINT"); e == nil {
		bad("final stage has no ENTRYPOINT")
	} else if w := argv(e.args); len(w) == 0 || path.Base(w[0]) != "latchkey" {
		bad("line %d: ENTRYPOINT %s does not run latchkey", e.line, e.args)
	}
	return problems
}

func TestRepositoryDockerfile(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range check(string(b)) {
		t.Error("Dockerfile: " + p)
	}
}

// good is a small Dockerfile that passes; the table below breaks it one
// way at a time.
const good = `# syntax=docker/dockerfile:1
ARG GO=1.26
FROM --platform=$BUILDPLATFORM golang:${GO}-bookworm AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build \
      -o /out/latchkey ./cmd/latchkey
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/latchkey /usr/local/bin/latchkey
USER nonroot:nonroot
VOLUME /data
HEALTHCHECK --interval=10s \
  CMD ["/usr/local/bin/latchkey", "health"]
ENTRYPOINT ["/usr/local/bin/latchkey"]
CMD ["serve"]
`

func TestCheckAcceptsGood(t *testing.T) {
	if p := check(good); len(p) != 0 {
		t.Fatalf("the good Dockerfile is refused: %q", p)
	}
	scratch := strings.Replace(good, "gcr.io/distroless/static-debian12:nonroot", "scratch", 1)
	scratch = strings.Replace(scratch, "USER nonroot:nonroot", "USER 65532:65532", 1)
	if p := check(scratch); len(p) != 0 {
		t.Fatalf("a scratch final stage with a numeric user is refused: %q", p)
	}
}

func TestCheckRefusesBroken(t *testing.T) {
	tests := []struct {
		name, old, new string
		want           string // a word the problem must contain
	}{
		{"USER root", "USER nonroot:nonroot", "USER root", "non-root"},
		{"USER 0", "USER nonroot:nonroot", "USER 0:0", "non-root"},
		{"no USER", "USER nonroot:nonroot\n", "", "no USER"},
		{"USER only in the build stage", "USER nonroot:nonroot\n", "", "no USER"},
		{"no HEALTHCHECK", "HEALTHCHECK --interval=10s \\\n  CMD [\"/usr/local/bin/latchkey\", \"health\"]\n", "", "HEALTHCHECK"},
		{"HEALTHCHECK NONE", "HEALTHCHECK --interval=10s \\\n  CMD [\"/usr/local/bin/latchkey\", \"health\"]\n", "HEALTHCHECK NONE\n", "NONE"},
		{"single stage", "FROM gcr.io/distroless/static-debian12:nonroot\nCOPY --from=build /out/latchkey /usr/local/bin/latchkey\n", "", "multi-stage"},
		{"no CGO_ENABLED=0", "RUN CGO_ENABLED=0 go build", "RUN go build", "CGO_ENABLED=0"},
		{"CGO_ENABLED=1", "RUN CGO_ENABLED=0 go build", "RUN CGO_ENABLED=1 go build", "CGO_ENABLED=0"},
		{"CGO_ENABLED=0 only in the final stage", "RUN CGO_ENABLED=0 go build", "RUN go build", "CGO_ENABLED=0"},
		{"final stage on debian", "gcr.io/distroless/static-debian12:nonroot", "debian:bookworm-slim", "final stage is FROM"},
		{"final stage on distroless base", "distroless/static-debian12", "distroless/base-debian12", "final stage is FROM"},
		{"no VOLUME", "VOLUME /data\n", "", "VOLUME"},
		{"ENTRYPOINT a shell", `ENTRYPOINT ["/usr/local/bin/latchkey"]`, `ENTRYPOINT ["/bin/sh", "-c"]`, "ENTRYPOINT"},
		{"no ENTRYPOINT", "ENTRYPOINT [\"/usr/local/bin/latchkey\"]\n", "", "ENTRYPOINT"},
		{"ADD a URL", "COPY . .\n", "COPY . .\nADD https://example.com/tool.tar.gz /tmp/\n", "ADD fetches a URL"},
		{"ADD a URL with flags", "COPY . .\n", "COPY . .\nADD --chmod=755 http://example.com/tool /usr/bin/tool\n", "ADD fetches a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(good, tt.old) {
				t.Fatalf("the good Dockerfile has no %q to replace", tt.old)
			}
			text := strings.Replace(good, tt.old, tt.new, 1)
			switch tt.name {
			case "USER only in the build stage":
				text = strings.Replace(text, "WORKDIR /src\n", "WORKDIR /src\nUSER nobody\n", 1)
			case "CGO_ENABLED=0 only in the final stage":
				text = strings.Replace(text, "USER nonroot:nonroot\n", "USER nonroot:nonroot\nENV CGO_ENABLED=0\n", 1)
			}
			problems := check(text)
			if len(problems) == 0 {
				t.Fatalf("accepted:\n%s", text)
			}
			found := false
			for _, p := range problems {
				found = found || strings.Contains(p, tt.want)
			}
			if !found {
				t.Errorf("problems %q name no %q", problems, tt.want)
			}
		})
	}
}

// A backslash continuation must not hide or invent an instruction.
func TestParseJoinsContinuations(t *testing.T) {
	_, stages := parse("FROM a AS b\nRUN echo one \\\n  # a comment inside\n  USER root\nFROM c\n")
	if len(stages) != 2 {
		t.Fatalf("%d stages, want 2", len(stages))
	}
	if n := len(stages[0].instr); n != 1 || stages[0].instr[0].cmd != "RUN" {
		t.Fatalf("first stage %+v, want one RUN", stages[0].instr)
	}
	if got := stages[0].instr[0].args; got != "echo one USER root" {
		t.Errorf("joined RUN is %q", got)
	}
}
