package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requireEnv names the variable that turns a missing client into a failure
// instead of a skip; `make test` sets it after running the setup script.
const requireEnv = "WSGATE_REQUIRE_INTEROP"

// pythonEnv names the variable that overrides debianPython.
const pythonEnv = "WSGATE_PYTHON"

// debianPython is the interpreter that sees Debian's python3-websockets; a
// pyenv or venv python3 earlier on PATH does not.
const debianPython = "/usr/bin/python3"

const setupHint = "run scripts/setup-test-deps.sh (as root), or make test"

// requireDep skips t because what is missing, or fails it when requireEnv is
// set.
func requireDep(t *testing.T, what string) {
	t.Helper()
	if os.Getenv(requireEnv) != "" {
		t.Fatalf("%s is missing and %s is set: %s", what, requireEnv, setupHint)
	}
	t.Skipf("%s is missing: %s (set %s to make this a failure)", what, setupHint, requireEnv)
}

// repoRoot returns the repository's root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found above the test: %v", err)
	}
	return root
}

// requireNode returns the path of node after checking that npm's ws is
// installed in test/node.
func requireNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		requireDep(t, "node")
	}
	ws := filepath.Join(repoRoot(t), "test", "node", "node_modules", "ws", "package.json")
	if _, err := os.Stat(ws); err != nil {
		requireDep(t, "npm package ws in test/node/node_modules")
	}
	return node
}

// requirePython returns the path of the Debian python3 after checking that
// it can import websockets.
func requirePython(t *testing.T) string {
	t.Helper()
	return requirePythonModule(t, "websockets")
}

// requireAutobahn returns the path of the Debian python3 after checking that
// it can import autobahn.
func requireAutobahn(t *testing.T) string {
	t.Helper()
	return requirePythonModule(t, "autobahn")
}

// requirePythonModule returns the path of the Debian python3 after checking
// that it can import module.
func requirePythonModule(t *testing.T, module string) string {
	t.Helper()
	py := debianPython
	if p := os.Getenv(pythonEnv); p != "" {
		py = p
	}
	if _, err := os.Stat(py); err != nil {
		requireDep(t, py)
	}
	if out, err := exec.Command(py, "-c", "import "+module).CombinedOutput(); err != nil {
		requireDep(t, "Python "+module+" for "+py+" ("+strings.TrimSpace(string(out))+")")
	}
	return py
}
