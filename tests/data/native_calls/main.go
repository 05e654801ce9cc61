// The native side of tests/test_calls.py: read cases, one per line
// ("fn|arg|arg..."), call the assembly function natively, print
// "fn|result|result..." (and, for functions that write through their arguments, the
// memory they wrote). Encoding: integers in decimal, bools 1/0, bytes as "x" + hex,
// lists comma-separated, a slice's capacity after ";", a pointer as its pointee.
package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"
)

func i64(s string) int64 {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic(err)
	}
	return v
}

func u64(s string) uint64 {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		panic(err)
	}
	return v
}

func bin(s string) []byte {
	if !strings.HasPrefix(s, "x") {
		panic("bytes must start with x: " + s)
	}
	b, err := hex.DecodeString(s[1:])
	if err != nil {
		panic(err)
	}
	return b
}

func hx(b []byte) string { return "x" + hex.EncodeToString(b) }

func b01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// items splits "a,b,c;cap" into its items and capacity (cap -1 when absent).
func items(s string) ([]string, int) {
	c := -1
	if i := strings.LastIndex(s, ";"); i >= 0 {
		c = int(i64(s[i+1:]))
		s = s[:i]
	}
	if s == "" {
		return nil, c
	}
	return strings.Split(s, ","), c
}

func byteSlice(s string) []byte {
	parts, c := items(s)
	var data []byte
	if len(parts) > 0 {
		data = bin(parts[0])
	} else {
		data = []byte{}
	}
	if c < len(data) {
		c = len(data)
	}
	out := make([]byte, len(data), c)
	copy(out, data)
	return out
}

func run(fn string, a []string) []string {
	switch fn {
	case "mix":
		r1, r2, r3, r4 := mix(int8(i64(a[0])), uint8(u64(a[1])), int16(i64(a[2])), uint16(u64(a[3])),
			int32(i64(a[4])), uint32(u64(a[5])), i64(a[6]), u64(a[7]))
		return []string{fmt.Sprint(r1), fmt.Sprint(r2), fmt.Sprint(r3), b01(r4)}
	case "narrow":
		x1, x2, x3, x4, x5 := narrow(i64(a[0]))
		return []string{fmt.Sprint(x1), fmt.Sprint(x2), fmt.Sprint(x3), b01(x4), fmt.Sprint(x5)}
	case "words":
		x1, x2, x3 := words(int(i64(a[0])), uint(u64(a[1])), uintptr(u64(a[2])))
		return []string{fmt.Sprint(x1), fmt.Sprint(x2), fmt.Sprint(x3)}
	case "bools":
		x1, x2, x3 := bools(a[0] == "1", int32(i64(a[1])), a[2] == "1")
		return []string{b01(x1), b01(x2), fmt.Sprint(x3)}
	case "deref":
		p := i64(a[0])
		q := uint32(u64(a[1]))
		x1, x2 := deref(&p, &q)
		return []string{fmt.Sprint(x1), fmt.Sprint(x2), fmt.Sprint(p), fmt.Sprint(q)}
	case "peek":
		b := bin(a[0])
		return []string{fmt.Sprint(peek(unsafe.Pointer(&b[0]), int(i64(a[1]))))}
	case "sumsl":
		parts, c := items(a[0])
		xs := make([]int32, len(parts), max(c, len(parts)))
		for i, p := range parts {
			xs[i] = int32(i64(p))
		}
		x1, x2, x3 := sumsl(xs)
		return []string{fmt.Sprint(x1), fmt.Sprint(x2), fmt.Sprint(x3)}
	case "rev":
		b := byteSlice(a[0])
		rev(b)
		return []string{hx(b)}
	case "fnv":
		x1, x2 := fnv(string(bin(a[0])))
		return []string{fmt.Sprint(x1), fmt.Sprint(x2)}
	case "tail":
		return []string{hx([]byte(tail(string(bin(a[0])))))}
	case "half":
		return []string{hx(half(byteSlice(a[0])))}
	case "arr":
		p, _ := items(a[0])
		q, _ := items(a[1])
		s, t := arr([3]uint16{uint16(u64(p[0])), uint16(u64(p[1])), uint16(u64(p[2]))},
			[2]int64{i64(q[0]), i64(q[1])})
		return []string{fmt.Sprintf("%d,%d,%d", s[0], s[1], s[2]), fmt.Sprint(t)}
	case "arrp":
		p, _ := items(a[0])
		x, y := int32(i64(p[0])), int32(i64(p[1]))
		return []string{fmt.Sprint(arrp([2]*int32{&x, &y}))}
	case "strs":
		p, _ := items(a[0])
		return []string{fmt.Sprint(strs([2]string{string(bin(p[0])), string(bin(p[1]))}))}
	case "slstr":
		parts, c := items(a[0])
		xs := make([]string, len(parts), max(c, len(parts)))
		for i, p := range parts {
			xs[i] = string(bin(p))
		}
		return []string{fmt.Sprint(slstr(xs))}
	}
	panic("unknown function " + fn)
}

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		panic(err)
	}
	in := bufio.NewScanner(f)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		fields := strings.Split(in.Text(), "|")
		res := run(fields[0], fields[1:])
		fmt.Fprintln(out, fields[0]+"|"+strings.Join(res, "|"))
	}
}
