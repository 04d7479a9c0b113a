package ldap

import (
	"fmt"
	"path/filepath"
	"strconv"
)

// Config is an LDAP connector's configurationProperties (the OpenICF LDAP
// connector's keys; the others are accepted and ignored).
type Config struct {
	Host        string // required
	Port        int    // 389, or 636 with SSL
	SSL         bool   // ldaps
	StartTLS    bool
	Principal   string // bind DN; "" binds anonymously
	Credentials string
	// BaseContexts are where objects are searched; required.
	BaseContexts []string
	// UIDAttribute makes the objects' _id: "entryUUID" (the default) or
	// "dn".
	UIDAttribute              string
	AccountObjectClasses      []string
	AccountUserNameAttributes []string
	AccountSearchFilter       string
	GroupObjectClasses        []string
	GroupSearchFilter         string
	PasswordAttribute         string
	// UsePagedResultControl reads searches in pages of BlockSize.
	UsePagedResultControl bool
	BlockSize             int
	// BaseContextsToSynchronize default to BaseContexts.
	BaseContextsToSynchronize  []string
	ObjectClassesToSynchronize []string
	// UseTimestampsForSync syncs by timestamps even where the server has
	// a changelog.
	UseTimestampsForSync  bool
	ChangeLogBlockSize    int
	ChangeNumberAttribute string
	// TrustedCertificates is a PEM file of certificates (the directory's
	// CA, or its own certificate) that ssl and startTLS trust beside the
	// system's roots: Sundial's key, where IDM uses the JVM's truststore
	// (openidm.truststore.location). "" trusts the system's roots alone.
	TrustedCertificates string
}

// ParseConfig reads configurationProperties; a relative
// trustedCertificates is relative to project (the directory holding the
// conf directory).
func ParseConfig(props map[string]any, project string) (Config, error) {
	c := Config{
		UIDAttribute:               "entryUUID",
		AccountObjectClasses:       []string{"top", "person", "organizationalPerson", "inetOrgPerson"},
		AccountUserNameAttributes:  []string{"uid", "cn"},
		GroupObjectClasses:         []string{"top", "groupOfUniqueNames"},
		PasswordAttribute:          "userPassword",
		BlockSize:                  100,
		ObjectClassesToSynchronize: []string{"inetOrgPerson"},
		ChangeLogBlockSize:         100,
		ChangeNumberAttribute:      "changeNumber",
	}
	var errs []error
	str := func(dst *string, key string) {
		switch v := props[key].(type) {
		case nil:
		case string:
			*dst = v
		default:
			errs = append(errs, fmt.Errorf("configurationProperties.%s: want a string, got %v", key, v))
		}
	}
	list := func(dst *[]string, key string) {
		switch v := props[key].(type) {
		case nil:
		case string:
			*dst = []string{v}
		case []any:
			out := make([]string, 0, len(v))
			for _, x := range v {
				s, ok := x.(string)
				if !ok {
					errs = append(errs, fmt.Errorf("configurationProperties.%s: want strings, got %v", key, x))
					return
				}
				out = append(out, s)
			}
			*dst = out
		default:
			errs = append(errs, fmt.Errorf("configurationProperties.%s: want a list of strings, got %v", key, v))
		}
	}
	boolean := func(dst *bool, key string) {
		switch v := props[key].(type) {
		case nil:
		case bool:
			*dst = v
		case string:
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("configurationProperties.%s: want true or false, got %q", key, v))
			}
			*dst = b
		default:
			errs = append(errs, fmt.Errorf("configurationProperties.%s: want true or false, got %v", key, v))
		}
	}
	integer := func(dst *int, key string) {
		var n int64
		var err error
		switch v := props[key].(type) {
		case nil:
			return
		case int64:
			n = v
		case float64:
			n = int64(v)
			if float64(n) != v {
				err = fmt.Errorf("not an integer")
			}
		case string:
			n, err = strconv.ParseInt(v, 10, 32)
		default:
			err = fmt.Errorf("not a number")
		}
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("configurationProperties.%s: want a non-negative integer, got %v", key, props[key]))
			return
		}
		*dst = int(n)
	}
	str(&c.Host, "host")
	integer(&c.Port, "port")
	boolean(&c.SSL, "ssl")
	boolean(&c.StartTLS, "startTLS")
	str(&c.Principal, "principal")
	str(&c.Credentials, "credentials")
	list(&c.BaseContexts, "baseContexts")
	str(&c.UIDAttribute, "uidAttribute")
	list(&c.AccountObjectClasses, "accountObjectClasses")
	list(&c.AccountUserNameAttributes, "accountUserNameAttributes")
	str(&c.AccountSearchFilter, "accountSearchFilter")
	list(&c.GroupObjectClasses, "groupObjectClasses")
	str(&c.GroupSearchFilter, "groupSearchFilter")
	str(&c.PasswordAttribute, "passwordAttribute")
	boolean(&c.UsePagedResultControl, "usePagedResultControl")
	integer(&c.BlockSize, "blockSize")
	list(&c.BaseContextsToSynchronize, "baseContextsToSynchronize")
	list(&c.ObjectClassesToSynchronize, "objectClassesToSynchronize")
	boolean(&c.UseTimestampsForSync, "useTimestampsForSync")
	integer(&c.ChangeLogBlockSize, "changeLogBlockSize")
	str(&c.ChangeNumberAttribute, "changeNumberAttribute")
	str(&c.TrustedCertificates, "trustedCertificates")
	if len(errs) > 0 {
		return Config{}, errs[0]
	}
	switch {
	case c.Host == "":
		return Config{}, fmt.Errorf("configurationProperties.host: missing")
	case len(c.BaseContexts) == 0:
		return Config{}, fmt.Errorf("configurationProperties.baseContexts: missing")
	case c.UIDAttribute == "":
		return Config{}, fmt.Errorf("configurationProperties.uidAttribute: empty")
	case c.SSL && c.StartTLS:
		return Config{}, fmt.Errorf("configurationProperties: ssl and startTLS exclude each other")
	}
	if c.Port == 0 {
		c.Port = 389
		if c.SSL {
			c.Port = 636
		}
	}
	if c.BlockSize == 0 {
		c.BlockSize = 100
	}
	if c.ChangeLogBlockSize == 0 {
		c.ChangeLogBlockSize = 100
	}
	if c.TrustedCertificates != "" && !filepath.IsAbs(c.TrustedCertificates) {
		c.TrustedCertificates = filepath.Join(project, c.TrustedCertificates)
	}
	if len(c.BaseContextsToSynchronize) == 0 {
		c.BaseContextsToSynchronize = c.BaseContexts
	}
	return c, nil
}
