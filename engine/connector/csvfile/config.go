package csvfile

import (
	"fmt"
	"path/filepath"
	"strconv"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"
)

// Config is a CSV connector's configurationProperties, in either
// generation's keys.
type Config struct {
	// File is the CSV file: csvFile (1.5+), filePath (1.1).
	File string
	// UID is the column of the object's id: headerUid (1.5+, default
	// "uid"), uniqueAttribute (1.1, required).
	UID string
	// Name is the column of __NAME__: headerName (1.5.0), nameAttribute
	// (1.1); UID when absent.
	Name string
	// Password is the column of __PASSWORD__: headerPassword,
	// passwordAttribute (default "password").
	Password string
	// Quote is quoteCharacter (1.5+) or valueQualifier (1.1), default ".
	Quote rune
	// Delimiter is fieldDelimiter, default ",".
	Delimiter rune
	// Newline is written after each record: newlineString, default "\n".
	Newline string
	// Encoding is the file's character set (encoding, default UTF-8).
	Encoding encoding.Encoding
	// Multivalue splits cells on this delimiter into arrays (1.1's
	// usingMultivalue with multivalueDelimiter, default ";"); "" does not.
	Multivalue string
	// SnapshotsKept is how many liveSync snapshots stay:
	// syncFileRetentionCount (1.5+, default 3), preserveLastTokens (1.1,
	// default 10).
	SnapshotsKept int
}

// ParseConfig reads configurationProperties; relative paths are relative
// to projectDir (IDM's project directory).
func ParseConfig(props map[string]any, projectDir string) (Config, error) {
	c := Config{UID: "uid", Password: "password", Quote: '"', Delimiter: ',', Newline: "\n", Encoding: unicode.UTF8, SnapshotsKept: 3}
	str := func(key string) (string, bool, error) {
		v, ok := props[key]
		if !ok || v == nil {
			return "", false, nil
		}
		s, isStr := v.(string)
		if !isStr {
			return "", false, fmt.Errorf("configurationProperties.%s: want a string, got %v", key, v)
		}
		return s, true, nil
	}
	var err error
	set := func(dst *string, keys ...string) {
		for _, k := range keys {
			if s, ok, e := str(k); e != nil {
				err = e
			} else if ok {
				*dst = s
			}
		}
	}
	runeOf := func(dst *rune, keys ...string) {
		for _, k := range keys {
			s, ok, e := str(k)
			switch {
			case e != nil:
				err = e
			case ok && utf8.RuneCountInString(s) != 1:
				err = fmt.Errorf("configurationProperties.%s: want one character, got %q", k, s)
			case ok:
				*dst, _ = utf8.DecodeRuneInString(s)
			}
		}
	}
	legacy := props["filePath"] != nil || props["uniqueAttribute"] != nil
	if legacy {
		c.SnapshotsKept = 10
	}
	set(&c.File, "csvFile", "filePath")
	set(&c.UID, "headerUid", "uniqueAttribute")
	set(&c.Name, "headerName", "nameAttribute")
	set(&c.Password, "headerPassword", "passwordAttribute")
	set(&c.Newline, "newlineString")
	runeOf(&c.Quote, "quoteCharacter", "valueQualifier")
	runeOf(&c.Delimiter, "fieldDelimiter")
	var enc, multi string
	set(&enc, "encoding")
	multi = ";"
	set(&multi, "multivalueDelimiter")
	if err != nil {
		return Config{}, err
	}
	if b, _ := props["usingMultivalue"].(bool); b {
		c.Multivalue = multi
	}
	for _, k := range []string{"syncFileRetentionCount", "preserveLastTokens"} {
		if v, ok := props[k]; ok {
			n, e := toInt(v)
			if e != nil || n < 1 {
				return Config{}, fmt.Errorf("configurationProperties.%s: want a positive integer, got %v", k, v)
			}
			c.SnapshotsKept = n
		}
	}
	if enc != "" {
		e, e2 := htmlindex.Get(enc)
		if e2 != nil {
			return Config{}, fmt.Errorf("configurationProperties.encoding: unknown character set %q", enc)
		}
		c.Encoding = e
	}
	if c.File == "" {
		return Config{}, fmt.Errorf("configurationProperties.csvFile (or filePath): missing")
	}
	if !filepath.IsAbs(c.File) {
		c.File = filepath.Join(projectDir, c.File)
	}
	if c.Name == "" {
		c.Name = c.UID
	}
	if c.Quote == c.Delimiter || c.Quote == '\n' || c.Delimiter == '\n' || c.Delimiter == '\r' {
		return Config{}, fmt.Errorf("configurationProperties: the quote %q and the delimiter %q must differ and not be newlines", c.Quote, c.Delimiter)
	}
	if c.Newline != "\n" && c.Newline != "\r\n" && c.Newline != "\r" {
		return Config{}, fmt.Errorf("configurationProperties.newlineString: want \\n, \\r\\n or \\r, got %q", c.Newline)
	}
	return c, nil
}

func toInt(v any) (int, error) {
	switch v := v.(type) {
	case int64:
		return int(v), nil
	case float64:
		if v == float64(int(v)) {
			return int(v), nil
		}
	case string:
		return strconv.Atoi(v)
	}
	return 0, fmt.Errorf("not an integer: %v", v)
}
