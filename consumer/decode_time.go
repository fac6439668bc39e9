package consumer

import (
	"errors"
	"time"
)

// ParseTime parses an event time: RFC 3339 with any offset and up to nine
// fraction digits ("2024-05-01T10:51:07.1234567Z",
// "2024-05-01T07:45:00.5-04:00"), or epoch seconds as decimal text (see
// ParseEpoch). The result is in UTC.
//
// Digits finer than a nanosecond are accepted only when they are zeros, so a
// time is never silently rounded. Years outside 0001–9999 and the zero time
// (0001-01-01T00:00:00Z, what broken pipelines write for "no time") are
// rejected.
func ParseTime(s string) (time.Time, error) { return parseTime(s) }

// ParseEpoch parses epoch seconds written in decimal: an optional sign,
// digits, an optional fraction and an optional exponent ("1714561200",
// "1714561200.75", "1.71456120075e9"). The value is taken exactly from the
// text, never through a float64, so "1714561200.75" is .750000000 s.
func ParseEpoch(s string) (time.Time, error) { return parseEpoch(s) }

var (
	errTimeSyntax  = errors.New("not an RFC 3339 time or epoch seconds")
	errTimeRange   = errors.New("time out of range (years 0001-9999)")
	errTimeTooFine = errors.New("time has non-zero digits finer than a nanosecond")
	errTimeZero    = errors.New("zero time is not an event time")
)

// Bounds of the times we accept, in Unix seconds: 0001-01-01T00:00:00Z and
// 9999-12-31T23:59:59Z. Outside them RFC 3339 cannot write the time.
const (
	minUnix = -62135596800
	maxUnix = 253402300799
)

func parseTime[T ~string | ~[]byte](s T) (time.Time, error) {
	if len(s) >= 10 && s[4] == '-' && s[7] == '-' {
		return parseRFC3339(s)
	}
	return parseEpoch(s)
}

func parseRFC3339[T ~string | ~[]byte](s T) (time.Time, error) {
	// 2006-01-02T15:04:05[.frac](Z|±hh:mm)
	if len(s) < len("2006-01-02T15:04:05Z") {
		return time.Time{}, errTimeSyntax
	}
	year, ok1 := digits(s, 0, 4)
	month, ok2 := digits(s, 5, 2)
	day, ok3 := digits(s, 8, 2)
	hour, ok4 := digits(s, 11, 2)
	minute, ok5 := digits(s, 14, 2)
	sec, ok6 := digits(s, 17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		(s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, errTimeSyntax
	}
	i := 19
	nsec := 0
	if s[i] == '.' {
		i++
		n := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if n < 9 {
				nsec = nsec*10 + int(s[i]-'0')
			} else if s[i] != '0' {
				return time.Time{}, errTimeTooFine
			}
			n++
		}
		if n == 0 {
			return time.Time{}, errTimeSyntax
		}
		for ; n < 9; n++ {
			nsec *= 10
		}
	}
	if i >= len(s) {
		return time.Time{}, errTimeSyntax
	}
	offset := 0
	switch s[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		if len(s)-i != 6 || s[i+3] != ':' {
			return time.Time{}, errTimeSyntax
		}
		oh, ok1 := digits(s, i+1, 2)
		om, ok2 := digits(s, i+4, 2)
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, errTimeSyntax
		}
		offset = oh*3600 + om*60
		if s[i] == '-' {
			offset = -offset
		}
		i += 6
	default:
		return time.Time{}, errTimeSyntax
	}
	if i != len(s) {
		return time.Time{}, errTimeSyntax
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, errTimeSyntax
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if offset != 0 {
		t = t.Add(-time.Duration(offset) * time.Second)
	}
	return checkTime(t)
}

func checkTime(t time.Time) (time.Time, error) {
	if u := t.Unix(); u < minUnix || u > maxUnix {
		return time.Time{}, errTimeRange
	}
	if t.IsZero() {
		return time.Time{}, errTimeZero
	}
	return t, nil
}

// digits reads n decimal digits of s at i.
func digits[T ~string | ~[]byte](s T, i, n int) (int, bool) {
	v := 0
	for j := i; j < i+n; j++ {
		c := s[j]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// decimal is the parsed shape of decimal text: sign, the digits before and
// after the point (as spans of the text) and a power-of-ten exponent. It
// lets callers read the exact value without a float.
type decimal struct {
	neg                bool
	intStart, intEnd   int
	fracStart, fracEnd int
	exp                int
}

// maxExp bounds the exponent; anything larger is out of every range we use
// and would only make the digit loops long.
const maxExp = 400

// parseDecimal accepts [+-]digits[.digits][(e|E)[+-]digits]. Leading zeros
// are allowed: this is the grammar of numeric strings, looser than JSON
// numbers (see validJSONNumber).
func parseDecimal[T ~string | ~[]byte](s T) (decimal, bool) {
	var d decimal
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		d.neg = s[i] == '-'
		i++
	}
	d.intStart = i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	d.intEnd = i
	if d.intEnd == d.intStart {
		return d, false
	}
	d.fracStart, d.fracEnd = i, i
	if i < len(s) && s[i] == '.' {
		i++
		d.fracStart = i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		d.fracEnd = i
		if d.fracEnd == d.fracStart {
			return d, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if d.exp <= maxExp {
				d.exp = d.exp*10 + int(s[i]-'0')
			}
			i++
		}
		if i == start {
			return d, false
		}
		if eneg {
			d.exp = -d.exp
		}
	}
	return d, i == len(s)
}

// split returns the integer part (when it fits in maxInt, else ok=false)
// and whether the fraction has a non-zero digit past the first fracDigits,
// and the first fracDigits fraction digits as an integer.
func splitDecimal[T ~string | ~[]byte](s T, d decimal, maxInt uint64, fracDigits int) (ip uint64, frac uint64, finer bool, ok bool) {
	nInt := d.intEnd - d.intStart
	nAll := nInt + d.fracEnd - d.fracStart
	if d.exp > maxExp || d.exp < -maxExp {
		// Only a zero mantissa survives such an exponent.
		for k := 0; k < nAll; k++ {
			if digitAt(s, d, nInt, k) != 0 {
				return 0, 0, false, false
			}
		}
		return 0, 0, false, true
	}
	point := nInt + d.exp // digits before the point after applying exp
	for k := 0; k < point; k++ {
		var dg uint64
		if k < nAll {
			dg = uint64(digitAt(s, d, nInt, k))
		}
		if ip > (maxInt-dg)/10 {
			return 0, 0, false, false
		}
		ip = ip*10 + dg
	}
	for k := 0; k < fracDigits; k++ {
		pos := point + k
		var dg uint64
		if pos >= 0 && pos < nAll {
			dg = uint64(digitAt(s, d, nInt, pos))
		}
		frac = frac*10 + dg
	}
	for pos := max(point+fracDigits, 0); pos < nAll; pos++ {
		if digitAt(s, d, nInt, pos) != 0 {
			finer = true
			break
		}
	}
	return ip, frac, finer, true
}

// digitAt returns the k-th mantissa digit, counting across the point.
func digitAt[T ~string | ~[]byte](s T, d decimal, nInt, k int) byte {
	if k < nInt {
		return s[d.intStart+k] - '0'
	}
	return s[d.fracStart+k-nInt] - '0'
}

func parseEpoch[T ~string | ~[]byte](s T) (time.Time, error) {
	d, ok := parseDecimal(s)
	if !ok {
		return time.Time{}, errTimeSyntax
	}
	sec, nsec, finer, ok := splitDecimal(s, d, maxUnix+1, 9)
	if !ok {
		return time.Time{}, errTimeRange
	}
	if finer {
		return time.Time{}, errTimeTooFine
	}
	u, n := int64(sec), int64(nsec)
	if d.neg {
		u = -u
		if n > 0 {
			u--
			n = 1e9 - n
		}
	}
	if u < minUnix || u > maxUnix {
		return time.Time{}, errTimeRange
	}
	return checkTime(time.Unix(u, n).UTC())
}

// appendEventCode appends the decimal integer text of an event code given as
// text: "855", "0855", "855.0" and "8.55e2" all give "855". Text that is not
// an integer number is kept as given.
func appendEventCode[T ~string | ~[]byte](dst []byte, s T) []byte {
	d, ok := parseDecimal(s)
	if ok {
		const maxCode = 1<<63 - 1
		if ip, _, finer, ok := splitDecimal(s, d, maxCode, 0); ok && !finer {
			if d.neg && ip != 0 {
				dst = append(dst, '-')
			}
			return appendUint(dst, ip)
		}
	}
	return append(dst, s...)
}

func appendUint(dst []byte, v uint64) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, tmp[i:]...)
}

// validJSONNumber reports whether s is a number by the JSON grammar
// (RFC 8259): -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. The JSON
// parser is lenient about numbers ("01", "1.2.3", "nan"); every number a
// decoder reads goes through this check.
func validJSONNumber(s []byte) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}
