package teamscim

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// Extension is a schema extension (RFC 7643 §3.3) a host registers for users
// (Config.UserExtensions) or groups (Config.GroupExtensions), for example
//
//	teamscim.Extension{
//		URN:  "urn:acme:params:scim:schemas:extension:team:2.0:User",
//		Name: "Team",
//		Attributes: []teamscim.Attribute{
//			{Name: "costCenter"},
//			{Name: "badge", Type: teamscim.TypeInteger, Mutability: teamscim.MutabilityImmutable},
//		},
//	}
//
// Its attributes travel in a resource as an object under the URN
// ({"urn:acme:…:User": {"costCenter": "CC-7"}}); the Server lists the extension in /Schemas and
// /ResourceTypes, validates what clients send against it (type, mutability, required), keeps
// it, returns it, applies PATCH operations to it and filters on it by full name
// ("urn:acme:…:User:costCenter eq \"CC-7\"").
type Extension struct {
	// URN is the schema's id, a URN ("urn:…") that no other schema of the resource uses.
	URN string
	// Name and Description are shown in /Schemas.
	Name        string
	Description string
	// Required makes the extension required on the resource type: every POST and PUT must
	// carry it, with its required attributes. Default: optional.
	Required bool
	// Attributes are the extension's attributes; at least one.
	Attributes []Attribute
}

// Attribute describes one attribute of an Extension (RFC 7643 §7).
type Attribute struct {
	// Name is the attribute's name (a letter, then letters, digits, "_", "-" or "$"), unique
	// in its schema compared case-insensitively; clients may spell it in any case.
	Name string
	// Type is the attribute's data type. Default: TypeString.
	Type AttributeType
	// MultiValued makes the attribute a list of values.
	MultiValued bool
	// Required refuses a POST or PUT without the attribute (and a PATCH that removes it). A
	// read-only attribute cannot be required.
	Required bool
	// CaseExact makes filters compare the attribute's strings case-sensitively.
	CaseExact bool
	// Mutability says who may change the attribute. Default: MutabilityReadWrite.
	Mutability Mutability
	// Returned says when responses carry the attribute. Default: ReturnedDefault.
	Returned Returned
	// CanonicalValues and ReferenceTypes are advertised in /Schemas; values outside
	// CanonicalValues are accepted.
	CanonicalValues []string
	ReferenceTypes  []string
	// Description is shown in /Schemas.
	Description string
	// SubAttributes are the sub-attributes of a TypeComplex attribute: simple attributes
	// (not complex themselves).
	SubAttributes []Attribute
}

// AttributeType is an attribute's data type (RFC 7643 §2.3).
type AttributeType string

// The data types of RFC 7643 §2.3.
const (
	TypeString    AttributeType = "string"
	TypeBoolean   AttributeType = "boolean"
	TypeInteger   AttributeType = "integer"
	TypeDecimal   AttributeType = "decimal"
	TypeDateTime  AttributeType = "dateTime"
	TypeReference AttributeType = "reference"
	TypeBinary    AttributeType = "binary"
	TypeComplex   AttributeType = "complex"
)

// Mutability says whether and when clients may change an attribute (RFC 7643 §7).
type Mutability string

// The mutabilities of RFC 7643 §7.
const (
	// MutabilityReadWrite: clients may set and change the attribute.
	MutabilityReadWrite Mutability = "readWrite"
	// MutabilityImmutable: clients may set the attribute once (POST, or PATCH add while it has
	// no value); a change answers 400 mutability.
	MutabilityImmutable Mutability = "immutable"
	// MutabilityReadOnly: only the host sets the attribute (store.User.Attributes); clients'
	// values are ignored on POST and PUT and answer 400 mutability in PATCH.
	MutabilityReadOnly Mutability = "readOnly"
	// MutabilityWriteOnly: clients may set the attribute; it is kept and never returned.
	MutabilityWriteOnly Mutability = "writeOnly"
)

// Returned says when a response carries an attribute (RFC 7643 §7).
type Returned string

// The values of RFC 7643 §7's "returned".
const (
	// ReturnedDefault: returned unless excludedAttributes or attributes leave it out.
	ReturnedDefault Returned = "default"
	// ReturnedAlways: returned even when attributes does not name it.
	ReturnedAlways Returned = "always"
	// ReturnedNever: never returned.
	ReturnedNever Returned = "never"
	// ReturnedRequest: returned only when attributes names it.
	ReturnedRequest Returned = "request"
)

var attributeName = regexp.MustCompile(`^[A-Za-z][\w$-]*$`)

// buildExtension checks ext and converts it to the wrapped library's schema.
func buildExtension(ext Extension, reserved []string) (schema.Schema, error) {
	if !strings.HasPrefix(strings.ToLower(ext.URN), "urn:") || strings.ContainsAny(ext.URN, " \t\"[]") {
		return schema.Schema{}, fmt.Errorf("URN %q is not a URN", ext.URN)
	}
	for _, r := range reserved {
		if strings.EqualFold(r, ext.URN) {
			return schema.Schema{}, fmt.Errorf("URN %q is used by another schema of the resource", ext.URN)
		}
	}
	if len(ext.Attributes) == 0 {
		return schema.Schema{}, errors.New("it has no attributes")
	}
	attrs, err := buildAttributes(ext.Attributes, false)
	if err != nil {
		return schema.Schema{}, err
	}
	sc := schema.Schema{ID: ext.URN, Attributes: attrs}
	if ext.Name != "" {
		sc.Name = optional.NewString(ext.Name)
	}
	if ext.Description != "" {
		sc.Description = optional.NewString(ext.Description)
	}
	return sc, nil
}

func buildAttributes(as []Attribute, sub bool) (schema.Attributes, error) {
	out := make(schema.Attributes, 0, len(as))
	seen := map[string]bool{}
	for _, a := range as {
		if !attributeName.MatchString(a.Name) {
			return nil, fmt.Errorf("attribute name %q is not valid", a.Name)
		}
		if seen[strings.ToLower(a.Name)] {
			return nil, fmt.Errorf("attribute %q is defined twice", a.Name)
		}
		seen[strings.ToLower(a.Name)] = true
		if a.Type == TypeComplex {
			if sub {
				return nil, fmt.Errorf("sub-attribute %q: a sub-attribute cannot be complex", a.Name)
			}
			if len(a.SubAttributes) == 0 {
				return nil, fmt.Errorf("complex attribute %q has no sub-attributes", a.Name)
			}
			params, err := simpleParamsOf(a.SubAttributes)
			if err != nil {
				return nil, fmt.Errorf("attribute %q: %w", a.Name, err)
			}
			mut, ret, err := characteristics(a)
			if err != nil {
				return nil, err
			}
			out = append(out, schema.ComplexCoreAttribute(schema.ComplexParams{
				Description: describe(a.Description), MultiValued: a.MultiValued, Mutability: mut, Name: a.Name,
				Required: a.Required, Returned: ret, SubAttributes: params,
			}))
			continue
		}
		if len(a.SubAttributes) > 0 {
			return nil, fmt.Errorf("attribute %q has sub-attributes but is not complex", a.Name)
		}
		p, err := simpleParams(a)
		if err != nil {
			return nil, err
		}
		out = append(out, schema.SimpleCoreAttribute(p))
	}
	return out[:len(out):len(out)], nil
}

func simpleParamsOf(as []Attribute) ([]schema.SimpleParams, error) {
	if _, err := buildAttributes(as, true); err != nil { // names, duplicates, types
		return nil, err
	}
	out := make([]schema.SimpleParams, 0, len(as))
	for _, a := range as {
		p, err := simpleParams(a)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func describe(s string) optional.String {
	if s == "" {
		return optional.String{}
	}
	return optional.NewString(s)
}

func characteristics(a Attribute) (schema.AttributeMutability, schema.AttributeReturned, error) {
	var mut schema.AttributeMutability
	switch a.Mutability {
	case "", MutabilityReadWrite:
		mut = schema.AttributeMutabilityReadWrite()
	case MutabilityImmutable:
		mut = schema.AttributeMutabilityImmutable()
	case MutabilityReadOnly:
		if a.Required {
			return mut, schema.AttributeReturned{}, fmt.Errorf("attribute %q: a read-only attribute cannot be required", a.Name)
		}
		mut = schema.AttributeMutabilityReadOnly()
	case MutabilityWriteOnly:
		mut = schema.AttributeMutabilityWriteOnly()
	default:
		return mut, schema.AttributeReturned{}, fmt.Errorf("attribute %q: unknown mutability %q", a.Name, a.Mutability)
	}
	var ret schema.AttributeReturned
	switch a.Returned {
	case "", ReturnedDefault:
		ret = schema.AttributeReturnedDefault()
	case ReturnedAlways:
		ret = schema.AttributeReturnedAlways()
	case ReturnedNever:
		ret = schema.AttributeReturnedNever()
	case ReturnedRequest:
		ret = schema.AttributeReturnedRequest()
	default:
		return mut, ret, fmt.Errorf("attribute %q: unknown returned %q", a.Name, a.Returned)
	}
	return mut, ret, nil
}

func simpleParams(a Attribute) (schema.SimpleParams, error) {
	mut, ret, err := characteristics(a)
	if err != nil {
		return schema.SimpleParams{}, err
	}
	d := describe(a.Description)
	switch a.Type {
	case "", TypeString:
		return schema.SimpleStringParams(schema.StringParams{CanonicalValues: a.CanonicalValues, CaseExact: a.CaseExact,
			Description: d, MultiValued: a.MultiValued, Mutability: mut, Name: a.Name, Required: a.Required, Returned: ret}), nil
	case TypeBoolean:
		return schema.SimpleBooleanParams(schema.BooleanParams{Description: d, MultiValued: a.MultiValued, Mutability: mut,
			Name: a.Name, Required: a.Required, Returned: ret}), nil
	case TypeInteger, TypeDecimal:
		t := schema.AttributeTypeInteger()
		if a.Type == TypeDecimal {
			t = schema.AttributeTypeDecimal()
		}
		return schema.SimpleNumberParams(schema.NumberParams{Description: d, MultiValued: a.MultiValued, Mutability: mut,
			Name: a.Name, Required: a.Required, Returned: ret, Type: t}), nil
	case TypeDateTime:
		return schema.SimpleDateTimeParams(schema.DateTimeParams{Description: d, MultiValued: a.MultiValued, Mutability: mut,
			Name: a.Name, Required: a.Required, Returned: ret}), nil
	case TypeReference:
		refs := make([]schema.AttributeReferenceType, len(a.ReferenceTypes))
		for i, r := range a.ReferenceTypes {
			refs[i] = schema.AttributeReferenceType(r)
		}
		return schema.SimpleReferenceParams(schema.ReferenceParams{Description: d, MultiValued: a.MultiValued, Mutability: mut,
			Name: a.Name, ReferenceTypes: refs, Required: a.Required, Returned: ret}), nil
	case TypeBinary:
		return schema.SimpleBinaryParams(schema.BinaryParams{Description: d, MultiValued: a.MultiValued, Mutability: mut,
			Name: a.Name, Required: a.Required, Returned: ret}), nil
	}
	return schema.SimpleParams{}, fmt.Errorf("attribute %q: unknown type %q", a.Name, a.Type)
}

// attrDef is an attribute of a schema as the Server validates, patches, filters and renders it:
// the wrapped library's definition, with its characteristics read once.
type attrDef struct {
	name       string // canonical spelling
	typ        string // "string", "boolean", "integer", "decimal", "dateTime", "reference", "binary", "complex"
	multi      bool
	required   bool
	caseExact  bool
	mutability string // "readWrite", "immutable", "readOnly", "writeOnly"
	returned   string // "default", "always", "never", "request"
	subs       []*attrDef
	subIndex   map[string]*attrDef // lower-case name → sub-attribute
	core       schema.CoreAttribute
	path       string // "name.givenName", for messages
}

func (a *attrDef) complex() bool { return a.typ == "complex" }

// sub returns the sub-attribute named name (any case).
func (a *attrDef) sub(name string) *attrDef { return a.subIndex[strings.ToLower(name)] }

// schemaDef is one schema of a resource type: the core schema or an extension.
type schemaDef struct {
	urn      string
	ext      bool
	required bool // an extension every resource must carry
	attrs    []*attrDef
	index    map[string]*attrDef // lower-case name → attribute
	elimity  schema.Schema
}

func (s *schemaDef) attr(name string) *attrDef { return s.index[strings.ToLower(name)] }

// resourceDef is a resource type's schemas.
type resourceDef struct {
	name    string // "User", "Group"
	core    *schemaDef
	exts    []*schemaDef
	byURN   map[string]*schemaDef // lower-case URN → schema, core included
	special bool                  // an attribute is returned never or on request, or is write-only
	dropped []string              // core attributes accepted and never kept (a user's password)
	guarded bool                  // an extension has read-only or immutable attributes (see keepGuarded)
	plain   bool                  // no extension is required and none is guarded (see plainUserBody)
}

func newSchemaDef(sc schema.Schema, ext, required bool) *schemaDef {
	d := &schemaDef{urn: sc.ID, ext: ext, required: required, index: map[string]*attrDef{}, elimity: sc}
	prefix := ""
	if ext {
		prefix = sc.ID + ":" // an extension's attributes are named by their full path in errors
	}
	for _, a := range sc.Attributes {
		def := newAttrDef(a, prefix)
		d.attrs = append(d.attrs, def)
		d.index[strings.ToLower(def.name)] = def
	}
	return d
}

func newAttrDef(a schema.CoreAttribute, parent string) *attrDef {
	d := &attrDef{name: a.Name(), typ: a.AttributeType(), multi: a.MultiValued(), required: a.Required(),
		caseExact: a.CaseExact(), mutability: a.Mutability(), returned: a.Returned(), core: a, path: a.Name()}
	switch {
	case strings.HasSuffix(parent, ":"): // an extension's URN
		d.path = parent + d.name
	case parent != "":
		d.path = parent + "." + d.name
	}
	if a.AttributeType() == "complex" {
		d.subIndex = map[string]*attrDef{}
		for _, s := range a.SubAttributes() {
			sd := newAttrDef(s, d.path)
			d.subs = append(d.subs, sd)
			d.subIndex[strings.ToLower(sd.name)] = sd
		}
	}
	return d
}

func newResourceDef(name string, core schema.Schema, exts []schema.Schema, required []bool) *resourceDef {
	r := &resourceDef{name: name, core: newSchemaDef(core, false, false), byURN: map[string]*schemaDef{}}
	r.byURN[strings.ToLower(core.ID)] = r.core
	for i, e := range exts {
		d := newSchemaDef(e, true, required[i])
		r.exts = append(r.exts, d)
		r.byURN[strings.ToLower(e.ID)] = d
	}
	for _, e := range r.exts {
		for _, a := range e.attrs {
			if a.mutability == "readOnly" || a.mutability == "immutable" {
				r.guarded = true
			}
		}
	}
	r.plain = !r.guarded
	for _, e := range r.exts {
		r.plain = r.plain && !e.required
	}
	for _, s := range append([]*schemaDef{r.core}, r.exts...) {
		for _, a := range s.attrs {
			if a.name == "password" && !s.ext {
				continue // never stored, so never returned
			}
			for _, d := range append([]*attrDef{a}, a.subs...) {
				if d.returned == "never" || d.returned == "request" || d.mutability == "writeOnly" {
					r.special = true
				}
			}
		}
	}
	return r
}

// schemaOf returns the schema with the given URN (any case).
func (r *resourceDef) schemaOf(urn string) *schemaDef { return r.byURN[strings.ToLower(urn)] }

// splitURN splits "urn:…:User:attr.sub" into the registered schema whose URN prefixes it and
// the rest ("attr.sub"); s is nil if no schema of the resource prefixes key.
func (r *resourceDef) splitURN(key string) (*schemaDef, string) {
	if len(key) < 4 || !strings.EqualFold(key[:4], "urn:") {
		return nil, ""
	}
	var best *schemaDef
	for urn, s := range r.byURN { // the longest URN that prefixes key
		if len(key) > len(urn)+1 && key[len(urn)] == ':' && strings.EqualFold(key[:len(urn)], urn) &&
			(best == nil || len(urn) > len(best.urn)) {
			best = s
		}
	}
	if best == nil {
		return nil, ""
	}
	return best, key[len(best.urn)+1:]
}

// ambiguous reports whether more than one extension has an attribute named name.
func (r *resourceDef) ambiguous(name string) bool {
	n := 0
	for _, e := range r.exts {
		if e.attr(name) != nil {
			n++
		}
	}
	return n > 1
}

// lookup resolves an attribute name without a URN: the core schema's attribute, or else the
// one extension attribute of that name.
func (r *resourceDef) lookup(name string) (*schemaDef, *attrDef) {
	if a := r.core.attr(name); a != nil {
		return r.core, a
	}
	var found *schemaDef
	var attr *attrDef
	for _, e := range r.exts {
		if a := e.attr(name); a != nil {
			if found != nil {
				return nil, nil // ambiguous: the client must qualify it
			}
			found, attr = e, a
		}
	}
	return found, attr
}

// keepGuarded makes a PUT's attributes (next) respect the extensions' read-only and
// immutable attributes given the stored ones (old): a read-only attribute keeps its stored
// value, and an immutable one that has a value keeps it (a different value answers 400
// mutability).
func (rd *resourceDef) keepGuarded(old, next map[string]any) error {
	for _, e := range rd.exts {
		oe, _ := old[e.urn].(map[string]any)
		ne, _ := next[e.urn].(map[string]any)
		for _, a := range e.attrs {
			ov := oe[a.name]
			switch a.mutability {
			case "readOnly":
				if ov == nil {
					if ne != nil {
						delete(ne, a.name)
					}
					continue
				}
			case "immutable":
				if ov == nil {
					continue
				}
				if nv, ok := ne[a.name]; ok && !reflect.DeepEqual(nv, ov) {
					return badRequest(scimerrors.ScimTypeMutability, "%s:%s is immutable: it can be set once and never changed.", e.urn, a.name)
				}
			default:
				continue
			}
			if ne == nil {
				ne = map[string]any{}
				next[e.urn] = ne
			}
			ne[a.name] = ov
		}
		if ne != nil && len(ne) == 0 {
			delete(next, e.urn)
		}
	}
	return nil
}
