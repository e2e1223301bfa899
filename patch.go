package teamscim

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/schema"
	filter "github.com/scim2/filter-parser/v2"
)

// patchOpSchema is the schema URN of a PATCH body (RFC 7644 §3.5.2).
const patchOpSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

// patchOp is one operation of a PATCH body.
type patchOp struct {
	op       string // "add", "remove" or "replace"
	path     string // "" when the operation has none
	value    any
	hasValue bool
	n        int // 0-based position in Operations, for error details
}

// where names the operation in error details.
func (o patchOp) where() string { return fmt.Sprintf("Operations[%d]", o.n) }

// parsePatch reads a PatchOp body (RFC 7644 §3.5.2): its schemas, and each operation's op
// (any case), path and value. Keys are matched case-insensitively; other keys of an operation
// are ignored. Each refusal names what is wrong without repeating the value.
func parsePatch(body []byte) ([]patchOp, error) {
	m, serr := decodeBody(body)
	if serr != nil {
		return nil, *serr
	}
	var schemas, operations any
	var hasOps bool
	for k, v := range m {
		switch strings.ToLower(k) {
		case "schemas":
			schemas = v
		case "operations":
			operations, hasOps = v, true
		}
	}
	listed := false
	if l, ok := schemas.([]any); ok {
		for _, s := range l {
			if str, ok := s.(string); ok && strings.EqualFold(str, patchOpSchema) {
				listed = true
			}
		}
	}
	if !listed {
		return nil, badRequest(scimerrors.ScimTypeInvalidSyntax, "schemas must list %s.", patchOpSchema)
	}
	if !hasOps || operations == nil {
		return nil, badRequest(scimerrors.ScimTypeInvalidValue, "Operations is required: a list of one or more PATCH operations.")
	}
	list, ok := operations.([]any)
	if !ok {
		return nil, badRequest(scimerrors.ScimTypeInvalidSyntax, "Operations must be a list of PATCH operations.")
	}
	if len(list) == 0 {
		return nil, badRequest(scimerrors.ScimTypeInvalidValue, "Operations is empty: a PATCH needs at least one operation.")
	}
	ops := make([]patchOp, 0, len(list))
	for i, el := range list {
		om, ok := el.(map[string]any)
		op := patchOp{n: i}
		if !ok {
			return nil, badRequest(scimerrors.ScimTypeInvalidSyntax, "%s must be an object with op, path and value.", op.where())
		}
		var name any
		for k, v := range om {
			switch strings.ToLower(k) {
			case "op":
				name = v
			case "path":
				if v == nil {
					continue
				}
				p, ok := v.(string)
				if !ok {
					return nil, badRequest(scimerrors.ScimTypeInvalidPath, "%s.path must be a string.", op.where())
				}
				op.path = strings.TrimSpace(p)
			case "value":
				op.value, op.hasValue = v, true
			}
		}
		s, _ := name.(string)
		op.op = strings.ToLower(strings.TrimSpace(s))
		switch {
		case name == nil:
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "%s.op is required: add, remove or replace.", op.where())
		case op.op != scim.PatchOperationAdd && op.op != scim.PatchOperationRemove && op.op != scim.PatchOperationReplace:
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "%s.op must be add, remove or replace.", op.where())
		case op.op == scim.PatchOperationRemove && op.path == "":
			return nil, badRequest(scimerrors.ScimTypeNoTarget, "%s: remove needs a path.", op.where())
		case op.op != scim.PatchOperationRemove && !op.hasValue:
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "%s: %s needs a value.", op.where(), op.op)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// target is a resolved attribute path of a resource type.
type target struct {
	schema *schemaDef
	attr   *attrDef          // nil: the whole extension schema
	sub    *attrDef          // the sub-attribute, or nil
	filter filter.Expression // the value filter of a multi-valued attribute, or nil
}

// key is the target attribute's key in the flat map the wrapped library patches: its name,
// or "<urn>:<name>" for an extension's attribute.
func (t target) key() string {
	if t.schema.ext {
		return t.schema.urn + ":" + t.attr.name
	}
	return t.attr.name
}

// def is the attribute the target changes: the sub-attribute, or the attribute.
func (t target) def() *attrDef {
	if t.sub != nil {
		return t.sub
	}
	return t.attr
}

// path returns the target as the wrapped library's path, with canonical names.
func (t target) path() *filter.Path {
	p := &filter.Path{AttributePath: filter.AttributePath{AttributeName: t.attr.name}, ValueExpression: t.filter}
	if t.schema.ext {
		urn := t.schema.urn
		p.AttributePath.URIPrefix = &urn
	}
	if t.sub != nil {
		sub := t.sub.name
		if t.filter != nil {
			p.SubAttribute = &sub
		} else {
			p.AttributePath.SubAttribute = &sub
		}
	}
	return p
}

// errPath is the error of a path that names nothing a schema defines.
type errPath struct{ detail string }

func (e errPath) Error() string { return e.detail }

// resolvePath resolves a PATCH path (or a key of a path-less value) against rd: an attribute
// of a schema of the resource, with an optional sub-attribute and value filter, or an
// extension's URN alone. Names are matched case-insensitively; an attribute without a URN is
// the core schema's, or the one extension attribute of that name.
func (rd *resourceDef) resolvePath(raw string) (target, error) {
	if sc := rd.schemaOf(raw); sc != nil {
		if !sc.ext {
			return target{}, errPath{"the path names the core schema, not an attribute"}
		}
		return target{schema: sc}, nil
	}
	sc, rest := rd.splitURN(raw)
	if sc == nil {
		if strings.HasPrefix(strings.ToLower(raw), "urn:") {
			return target{}, errPath{"the path names a schema this resource type does not have"}
		}
		rest = raw
	}
	p, err := parsePath(rest)
	if err != nil || p.AttributePath.URIPrefix != nil {
		return target{}, errPath{"the path is not a valid attribute path (RFC 7644 §3.5.2)"}
	}
	var a *attrDef
	if sc != nil {
		a = sc.attr(p.AttributePath.AttributeName)
	} else {
		sc, a = rd.lookup(p.AttributePath.AttributeName)
	}
	if a == nil {
		if sc == nil && rd.ambiguous(p.AttributePath.AttributeName) {
			return target{}, errPath{fmt.Sprintf("more than one schema extension has an attribute %s: name it with its schema URN",
				quoteName(p.AttributePath.AttributeName))}
		}
		return target{}, errPath{fmt.Sprintf("the path names an attribute no schema defines: %s", quoteName(p.AttributePath.AttributeName))}
	}
	t := target{schema: sc, attr: a}
	subName := p.AttributePath.SubAttributeName()
	if p.ValueExpression != nil {
		if !a.multi || !a.complex() || subName != "" {
			return target{}, errPath{fmt.Sprintf("a value filter applies only to a multi-valued complex attribute, not to %s", a.path)}
		}
		f, err := checkValueFilter(a, p.ValueExpression)
		if err != nil {
			return target{}, err
		}
		t.filter = f
		subName = p.SubAttributeName()
	}
	if subName != "" {
		if !a.complex() {
			return target{}, errPath{fmt.Sprintf("%s has no sub-attributes", a.path)}
		}
		if t.sub = a.sub(subName); t.sub == nil {
			return target{}, errPath{fmt.Sprintf("%s has no sub-attribute %s", a.path, quoteName(subName))}
		}
	}
	return t, nil
}

// checkValueFilter checks that a value filter names sub-attributes of a, and returns it with
// canonical names and "True"/"False" turned into booleans for boolean sub-attributes.
func checkValueFilter(a *attrDef, expr filter.Expression) (filter.Expression, error) {
	switch e := expr.(type) {
	case *filter.LogicalExpression:
		l, err := checkValueFilter(a, e.Left)
		if err != nil {
			return nil, err
		}
		r, err := checkValueFilter(a, e.Right)
		if err != nil {
			return nil, err
		}
		return &filter.LogicalExpression{Left: l, Right: r, Operator: e.Operator}, nil
	case *filter.NotExpression:
		inner, err := checkValueFilter(a, e.Expression)
		if err != nil {
			return nil, err
		}
		return &filter.NotExpression{Expression: inner}, nil
	case *filter.AttributeExpression:
		sub := a.sub(e.AttributePath.AttributeName)
		if sub == nil || e.AttributePath.SubAttribute != nil || e.AttributePath.URIPrefix != nil {
			return nil, errPath{fmt.Sprintf("the value filter names a sub-attribute %s does not have: %s", a.path, quoteName(e.AttributePath.AttributeName))}
		}
		out := *e
		out.AttributePath = filter.AttributePath{AttributeName: sub.name}
		if sub.typ == "boolean" {
			out.CompareValue = stringBool(e.CompareValue)
		}
		return &out, nil
	}
	return nil, errPath{fmt.Sprintf("the value filter of %s is not a simple comparison of its sub-attributes", a.path)}
}

// flatten moves each extension's object in m to flat "<urn>:<name>" keys.
func (rd *resourceDef) flatten(m map[string]any) {
	for _, e := range rd.exts {
		em, ok := m[e.urn].(map[string]any)
		if !ok {
			continue
		}
		delete(m, e.urn)
		for k, v := range em {
			m[e.urn+":"+k] = v
		}
	}
}

// unflatten moves flat "<urn>:<name>" keys of m into each extension's object.
func (rd *resourceDef) unflatten(m map[string]any) {
	for k, v := range m {
		if sc, rest := rd.splitURN(k); sc != nil && sc.ext {
			delete(m, k)
			extObject(m, sc.urn)[rest] = v
		}
	}
}

// applyPatch applies ops to attrs (a resource as checkResource returns it, or as the store
// holds it) and returns the patched resource, checked. ops apply in order, all or none.
func (s *Server) applyPatch(rd *resourceDef, attrs map[string]any, ops []patchOp) (map[string]any, error) {
	m := make(scim.ResourceAttributes, len(attrs))
	for k, v := range attrs {
		m[k] = v
	}
	rd.flatten(m)
	for _, op := range ops {
		var err error
		if m, err = s.applyOp(rd, m, op); err != nil {
			return nil, err
		}
	}
	rd.unflatten(m)
	out, err := checkResource(rd, m, checkPatched)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// applyOp applies one operation: a path-less one as one operation per key of its value, an
// extension URN as one per attribute of the extension, anything else on its resolved path.
func (s *Server) applyOp(rd *resourceDef, m scim.ResourceAttributes, op patchOp) (scim.ResourceAttributes, error) {
	if op.path == "" {
		obj, ok := op.value.(map[string]any)
		if !ok {
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "%s: %s without a path needs an object of attributes as its value.", op.where(), op.op)
		}
		for _, k := range sortedKeys(obj) {
			switch strings.ToLower(k) {
			case "id", "meta", "schemas", "password":
				continue // read-only (Okta's group rename carries the id) or never stored
			}
			t, err := rd.resolvePath(k)
			if err != nil {
				continue // attributes no schema defines are ignored, as in a POST
			}
			var perr error
			if m, perr = s.applyTarget(rd, m, op, t, obj[k]); perr != nil {
				return nil, perr
			}
		}
		return m, nil
	}
	t, err := rd.resolvePath(op.path)
	if err != nil {
		return nil, badRequest(scimerrors.ScimTypeInvalidPath, "%s.path: %s.", op.where(), err.Error())
	}
	return s.applyTarget(rd, m, op, t, op.value)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// applyTarget applies op with value to a resolved target.
func (s *Server) applyTarget(rd *resourceDef, m scim.ResourceAttributes, op patchOp, t target, value any) (scim.ResourceAttributes, error) {
	if t.attr == nil { // an extension's URN: every attribute of the extension
		if op.op == scim.PatchOperationRemove {
			for _, a := range t.schema.attrs {
				if _, ok := m[t.schema.urn+":"+a.name]; ok {
					var err error
					if m, err = s.applyTarget(rd, m, op, target{schema: t.schema, attr: a}, nil); err != nil {
						return nil, err
					}
				}
			}
			return m, nil
		}
		obj, ok := value.(map[string]any)
		if !ok {
			if value == nil {
				return s.applyTarget(rd, m, patchOp{op: scim.PatchOperationRemove, n: op.n}, t, nil)
			}
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "%s: the value of %s must be an object of its attributes.", op.where(), t.schema.urn)
		}
		for _, k := range sortedKeys(obj) {
			a := t.schema.attr(k)
			if a == nil {
				continue
			}
			var err error
			if m, err = s.applyTarget(rd, m, op, target{schema: t.schema, attr: a}, obj[k]); err != nil {
				return nil, err
			}
		}
		return m, nil
	}
	if !t.schema.ext && slices.Contains(rd.dropped, t.attr.name) {
		return m, nil // accepted and never kept (a user's password)
	}
	kind := op.op
	switch {
	case kind == scim.PatchOperationAdd && value == nil:
		return m, nil // adding nothing changes nothing
	case kind == scim.PatchOperationReplace && value == nil:
		kind = scim.PatchOperationRemove // replacing with null unassigns (RFC 7643 §2.5)
	}
	key := t.key()
	d := t.def()
	current, exists := m[key]
	switch {
	case d.mutability == "readOnly" || t.attr.mutability == "readOnly":
		return nil, badRequest(scimerrors.ScimTypeMutability, "%s: %s is read-only.", op.where(), d.path)
	case d.mutability == "immutable" && (kind != scim.PatchOperationAdd || exists):
		return nil, badRequest(scimerrors.ScimTypeMutability, "%s: %s is immutable: it can be set once and never changed.", op.where(), d.path)
	case kind == scim.PatchOperationRemove && t.filter == nil && d.required:
		return nil, badRequest(scimerrors.ScimTypeMutability, "%s: %s is required and cannot be removed.", op.where(), d.path)
	}
	value = typedValue(d, value)
	if t.sub == nil && t.filter == nil {
		value = typedValue(t.attr, value)
	}

	switch {
	case t.attr.multi && t.filter == nil && t.sub == nil && kind == scim.PatchOperationAdd:
		// RFC 7644 §3.5.2.1: values are added; a value already there changes nothing, and one
		// with the type and value of an existing one updates it.
		m[key] = addValues(asValues(current, exists), asValues(value, true))
		return m, nil
	case t.attr.multi && t.filter == nil && t.sub != nil:
		// "emails.display": the sub-attribute of every value.
		list := asValues(current, exists)
		if len(list) == 0 {
			if kind == scim.PatchOperationReplace {
				return nil, noTarget(op, t)
			}
			if kind == scim.PatchOperationAdd {
				m[key] = []any{map[string]any{t.sub.name: value}}
			}
			return m, nil
		}
		out := make([]any, 0, len(list))
		for _, el := range list {
			em, ok := el.(map[string]any)
			if !ok {
				continue
			}
			em = copyObject(em)
			if kind == scim.PatchOperationRemove {
				delete(em, t.sub.name)
			} else {
				em[t.sub.name] = value
			}
			if len(em) > 0 {
				out = append(out, em)
			}
		}
		m[key] = out
		return m, nil
	case t.filter != nil && kind != scim.PatchOperationRemove && !anyMatch(t, current):
		// Entra ID adds a value through a filter ("add emails[type eq \"work\"].value") and
		// replaces one that may not exist yet: both create it. Other replaces that match
		// nothing answer noTarget (RFC 7644 §3.5.2.3).
		elem, ok := newElement(t, value)
		if !ok || (kind == scim.PatchOperationReplace && !entraWork(t)) {
			return nil, noTarget(op, t)
		}
		m[key] = addValues(asValues(current, exists), []any{elem})
		return m, nil
	case kind == scim.PatchOperationRemove && !exists:
		return m, nil // nothing to remove
	}
	out, err := applyLibrary(m, scim.PatchOperation{Op: kind, Path: t.path(), Value: value}, s.patchSchemas(rd))
	if err != nil {
		se, _ := err.(scimerrors.ScimError)
		switch se.ScimType {
		case scimerrors.ScimTypeNoTarget:
			return nil, noTarget(op, t)
		case scimerrors.ScimTypeInvalidValue: // the library's check of multi-valued attributes
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "%s: a multi-valued attribute would have two values with the same type and value.", op.where())
		}
		return nil, badRequest(scimerrors.ScimTypeInvalidValue, "%s cannot be applied to %s.", op.where(), d.path)
	}
	return out, nil
}

func noTarget(op patchOp, t target) error {
	return badRequest(scimerrors.ScimTypeNoTarget, "%s: no value of %s matches the path's filter.", op.where(), t.attr.path)
}

// entraWork reports whether a filter is type eq "work", the form Entra ID replaces through
// before the value exists.
func entraWork(t target) bool {
	e, ok := t.filter.(*filter.AttributeExpression)
	return ok && e.Operator == filter.EQ && e.AttributePath.AttributeName == "type" && e.CompareValue == "work"
}

// newElement is the value an unmatched `attr[sub eq "x"].other` (or `attr[sub eq "x"]` with
// an object) adds: {sub: "x", other: value}. Only an equality on a sub-attribute says what
// the new value is.
func newElement(t target, value any) (map[string]any, bool) {
	e, ok := t.filter.(*filter.AttributeExpression)
	if !ok || e.Operator != filter.EQ || e.CompareValue == nil {
		return nil, false
	}
	elem := map[string]any{e.AttributePath.AttributeName: e.CompareValue}
	switch {
	case t.sub != nil:
		elem[t.sub.name] = value
	default:
		obj, ok := value.(map[string]any)
		if !ok {
			return nil, false
		}
		for k, v := range obj {
			if sub := t.attr.sub(k); sub != nil {
				elem[sub.name] = v
			}
		}
	}
	return elem, true
}

// anyMatch reports whether a value of the target's multi-valued attribute matches its filter.
func anyMatch(t target, current any) bool {
	for _, el := range asValues(current, current != nil) {
		if em, ok := el.(map[string]any); ok && matches(t.filter, em) {
			return true
		}
	}
	return false
}

// asValues returns the values of a multi-valued attribute (a single value as a list of one).
func asValues(v any, exists bool) []any {
	if !exists || v == nil {
		return nil
	}
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// addValues adds values to list: a value equal to one already there is not added again; one
// with the type and value of an existing one replaces that one's sub-attributes it names; a
// new primary value makes the others non-primary.
func addValues(list, values []any) []any {
	out := slices.Clone(list)
	newPrimary := -1
	for _, v := range values {
		vm, isMap := v.(map[string]any)
		idx := -1
		for i, el := range out {
			if reflect.DeepEqual(el, v) {
				idx = i
				break
			}
			if em, ok := el.(map[string]any); ok && isMap && sameTypeValue(em, vm) {
				merged := copyObject(em)
				for k, sv := range vm {
					merged[k] = sv
				}
				out[i] = merged
				idx = i
				break
			}
		}
		if idx < 0 {
			out = append(out, v)
			idx = len(out) - 1
		}
		if p, _ := vm["primary"].(bool); isMap && p {
			newPrimary = idx
		}
	}
	if newPrimary >= 0 {
		for i, el := range out {
			if em, ok := el.(map[string]any); ok && i != newPrimary {
				if p, _ := em["primary"].(bool); p {
					em = copyObject(em)
					em["primary"] = false
					out[i] = em
				}
			}
		}
	}
	return out
}

func sameTypeValue(a, b map[string]any) bool {
	at, aok := a["type"].(string)
	bt, bok := b["type"].(string)
	av, avok := a["value"].(string)
	bv, bvok := b["value"].(string)
	return aok && bok && avok && bvok && at == bt && av == bv
}

func copyObject(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// typedValue converts the JSON numbers and "True"/"False" strings of a PATCH value to the
// types of the attribute it goes to, so that filters of later operations compare them.
func typedValue(a *attrDef, v any) any {
	switch x := v.(type) {
	case string:
		if a.typ == "boolean" {
			return stringBool(x)
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = typedValue(a, el)
		}
		return out
	case map[string]any:
		if !a.complex() {
			return x
		}
		out := make(map[string]any, len(x))
		for k, sv := range x {
			if sub := a.sub(k); sub != nil {
				out[sub.name] = typedValue(sub, sv)
			} else {
				out[k] = sv // checkResource refuses it, naming it
			}
		}
		return out
	}
	return numbersOf(a, v)
}

// patchSchemas returns the schemas the wrapped library resolves paths against.
func (s *Server) patchSchemas(rd *resourceDef) []schema.Schema {
	if rd == s.users {
		return s.userPatchSchemas
	}
	return s.groupPatchSchemas
}

// applyLibrary applies one operation with the wrapped library's ApplyPatch. The library's
// value filters assume values of the schema's types, which checkResource guarantees for what
// is stored and typedValue for what a request adds; a panic is still answered as a bad
// operation rather than a 500.
func applyLibrary(m scim.ResourceAttributes, op scim.PatchOperation, sc []schema.Schema) (out scim.ResourceAttributes, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, fmt.Errorf("apply patch: %v", v)
		}
	}()
	return scim.ApplyPatch(m, []scim.PatchOperation{op}, sc[0], sc[1:]...)
}
