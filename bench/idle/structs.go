package main

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"sort"
)

// structSize is the size of one struct type found in the wsgate binary.
type structSize struct {
	Name  string `json:"name"`
	Size  int64  `json:"size"`
	Class int64  `json:"size_class"`
	// Note lists the biggest fields, "name size", largest first.
	Note []string `json:"fields,omitempty"`
}

// perConnStructs are the types every wsgate connection allocates (or
// embeds), outermost first; the unexported ones cannot be measured with
// unsafe.Sizeof from here, so they are read from the binary's DWARF.
var perConnStructs = []string{
	"github.com/wsgate/wsgate/internal/server.conn",
	"github.com/wsgate/wsgate/poller.Conn",
	"github.com/wsgate/wsgate/poller.TimerNode",
	"github.com/wsgate/wsgate/frame.Decoder",
	"github.com/lesismal/nbio.Conn",
	"github.com/wsgate/wsgate/poller.tcpAddr4", // what nbio.Conn's remote address is replaced by (poller/addr.go)
	"net.TCPAddr", // what nbio keeps for each end without that (the floor)
}

// structSizes reads the sizes of perConnStructs from the DWARF data of the
// binary at path (absent if it was built with -ldflags=-w).
func structSizes(path string) ([]structSize, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		return nil, fmt.Errorf("idle: %s has no DWARF: %w", path, err)
	}
	want := make(map[string]bool, len(perConnStructs))
	for _, n := range perConnStructs {
		want[n] = true
	}
	found := make(map[string]structSize)
	r := d.Reader()
	for len(found) < len(want) {
		e, err := r.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			break
		}
		if e.Tag != dwarf.TagStructType {
			continue
		}
		name, _ := e.Val(dwarf.AttrName).(string)
		if !want[name] {
			r.SkipChildren()
			continue
		}
		if _, dup := found[name]; dup {
			r.SkipChildren()
			continue
		}
		t, err := d.Type(e.Offset)
		if err != nil {
			return nil, err
		}
		st, ok := t.(*dwarf.StructType)
		if !ok {
			continue
		}
		found[name] = describe(name, st)
		r.SkipChildren()
	}
	var out []structSize
	for _, n := range perConnStructs {
		if s, ok := found[n]; ok {
			out = append(out, s)
		}
	}
	return out, nil
}

func describe(name string, st *dwarf.StructType) structSize {
	s := structSize{Name: name, Size: st.ByteSize, Class: sizeClass(st.ByteSize)}
	fields := append([]*dwarf.StructField(nil), st.Field...)
	sort.SliceStable(fields, func(i, j int) bool { return fields[i].Type.Size() > fields[j].Type.Size() })
	for i, f := range fields {
		if i == 6 {
			break
		}
		s.Note = append(s.Note, fmt.Sprintf("%s %d", f.Name, f.Type.Size()))
	}
	return s
}

// goSizeClasses are the Go runtime's small-object size classes up to
// 2 KiB (internal/runtime/gc/sizeclasses.go, unchanged since Go 1.12).
var goSizeClasses = []int64{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224,
	240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280,
	1408, 1536, 1792, 2048}

// sizeClass returns the bytes a heap object of size n really takes, or n
// itself beyond the table.
func sizeClass(n int64) int64 {
	for _, c := range goSizeClasses {
		if n <= c {
			return c
		}
	}
	return n
}
