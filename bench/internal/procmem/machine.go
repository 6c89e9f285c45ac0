package procmem

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// Machine describes the host a benchmark ran on.
type Machine struct {
	// CPU is the first "model name" in /proc/cpuinfo.
	CPU string `json:"cpu"`
	// Cores is the number of logical CPUs the process may use.
	Cores int `json:"cores"`
	// MemTotal is MemTotal from /proc/meminfo, in bytes.
	MemTotal int64 `json:"mem_total"`
	// Kernel is the kernel release (uname -r).
	Kernel string `json:"kernel"`
	// Go is the version of the toolchain that builds the servers.
	Go string `json:"go"`
	// THP is the transparent-huge-page mode (the bracketed word of
	// /sys/kernel/mm/transparent_hugepage/enabled).
	THP string `json:"thp"`
}

// Describe reports the current machine. Fields it cannot read stay empty.
func Describe() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPU = CPUModel(b)
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemTotal = kbFields(b)["MemTotal"]
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		m.Go = strings.TrimSpace(string(out))
	}
	if b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); err == nil {
		m.THP = Bracketed(string(b))
	}
	return m
}

// CPUModel returns the first "model name" value of a /proc/cpuinfo text.
func CPUModel(cpuinfo []byte) string {
	for _, line := range strings.Split(string(cpuinfo), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Bracketed returns the word in square brackets in a sysfs choice list
// such as "always [madvise] never", or the trimmed text if there is none.
func Bracketed(s string) string {
	i := strings.IndexByte(s, '[')
	j := strings.IndexByte(s, ']')
	if i < 0 || j < i {
		return strings.TrimSpace(s)
	}
	return s[i+1 : j]
}
