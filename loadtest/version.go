package loadtest

import (
	"runtime"
	"runtime/debug"
)

// buildVersion is set at link time by the Makefile:
// -ldflags "-X github.com/wsgate/wsgate/loadtest.buildVersion=v1.2.3".
var buildVersion string

// Version returns wsload's version: the one set at link time, else the
// commit the binary was built from (with "-dirty" when the tree had
// changes), else "dev".
func Version() string {
	if buildVersion != "" {
		return buildVersion
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}

// versionLine is what -version prints.
func versionLine() string {
	return "wsload " + Version() + " (" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
}
