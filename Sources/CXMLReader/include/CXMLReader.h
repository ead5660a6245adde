#ifndef SEQMODELS_CXMLREADER_H
#define SEQMODELS_CXMLREADER_H

/*
 * A small, opaque, safe streaming XML pull reader over libxml2's xmlTextReader.
 *
 * This header deliberately includes no libxml2 header: libxml2's headers pull in
 * ICU's, which clash with the ICU module Foundation ships, so a Swift module that
 * imports both fails to compile. Everything libxml2 lives in reader.c.
 *
 * Safety, by construction (see reader.c for details):
 *  - no network (XML_PARSE_NONET), no entity substitution (no XML_PARSE_NOENT),
 *    no DTD loading, default attributes or validation, no XInclude, no XML_PARSE_HUGE
 *    (so libxml2's entity-amplification guard stays on);
 *  - every external resource libxml2 asks for while one of these readers is working
 *    (external DTD subset, external entity, schema) is refused and counted;
 *  - a reference to a user-declared entity is reported as SM_XML_ENTITY_REFERENCE,
 *    never expanded;
 *  - parse errors are captured per reader (message, line, column), never printed.
 *
 * Strings returned by the accessors are UTF-8, NUL-terminated and owned by the
 * reader: names stay valid until sm_xml_close, values until the next sm_xml_next.
 */

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An open streaming reader over one file.
typedef struct sm_xml_reader sm_xml_reader;

/// What sm_xml_next found.
typedef enum {
    SM_XML_ERROR = -1,            ///< malformed input or refused content: see sm_xml_error_*
    SM_XML_END_OF_DOCUMENT = 0,   ///< the whole document was read
    SM_XML_START_ELEMENT = 1,     ///< `<name …>` or `<name …/>` (see sm_xml_is_empty_element)
    SM_XML_END_ELEMENT = 2,       ///< `</name>` (never reported for empty elements)
    SM_XML_TEXT = 3,              ///< character data or CDATA
    SM_XML_WHITESPACE = 4,        ///< whitespace-only character data
    SM_XML_ENTITY_REFERENCE = 5,  ///< `&name;` of a declared (or undeclared) entity: never expanded
} sm_xml_node_kind;

/// Opens `path` for streaming. On failure returns NULL and, if `error` is not NULL,
/// stores a malloc'd message there (free it with sm_xml_free_string).
sm_xml_reader *sm_xml_open(const char *path, char **error);

/// Test hook, never for corpora: like sm_xml_open, but also asks libxml2 to load the
/// external DTD subset, apply its default attributes and substitute entities
/// (XML_PARSE_DTDLOAD | XML_PARSE_DTDATTR | XML_PARSE_NOENT),
/// so that tests can prove the refusing loader is a lock of its own: nothing external
/// is read even then (see sm_xml_refused_loads).
sm_xml_reader *sm_xml_open_requesting_loads_for_testing(const char *path, char **error);

/// Releases the reader and everything it owns. Accepts NULL.
void sm_xml_close(sm_xml_reader *reader);

/// Frees a string returned through sm_xml_open's `error`.
void sm_xml_free_string(char *string);

/// Advances to the next node of interest; comments, processing instructions and the
/// document type declaration are skipped. Returns an sm_xml_node_kind.
int sm_xml_next(sm_xml_reader *reader);

/// Interns `name` in the reader's dictionary: element local names returned by
/// sm_xml_local_name are interned too, so equal names compare equal as pointers.
const char *sm_xml_intern(sm_xml_reader *reader, const char *name);

/// The current element's (or entity reference's) local name, interned; "" for text.
const char *sm_xml_local_name(sm_xml_reader *reader);

/// The current element's namespace URI, or NULL when it has none.
const char *sm_xml_namespace_uri(sm_xml_reader *reader);

/// The current text node's content (valid until the next sm_xml_next), or NULL.
const char *sm_xml_value(sm_xml_reader *reader);

/// The value of the current element's attribute with local name `local_name`
/// (in namespace `namespace_uri`, or in any namespace when it is NULL), or NULL
/// when absent. Valid until the next sm_xml_next. A value holding a reference to a
/// user-declared entity is refused: NULL is returned and the error recorded (check
/// sm_xml_error_message when NULL comes back).
const char *sm_xml_attribute(sm_xml_reader *reader, const char *local_name,
                             const char *namespace_uri);

/// 1 when the current element is written `<name/>` (no END_ELEMENT follows).
int sm_xml_is_empty_element(sm_xml_reader *reader);

/// Depth of the current node (the root element is 0).
int sm_xml_depth(sm_xml_reader *reader);

/// Line of the current element's start tag (1-based), or 0 when libxml2 cannot tell
/// exactly (libxml2 2.9 saturates element line numbers at 65535).
long sm_xml_line(sm_xml_reader *reader);

/// Number of start tags read so far (1 for the root); identifies the current element's
/// start tag for sm_xml_locate_start_tag.
unsigned long long sm_xml_element_ordinal(sm_xml_reader *reader);

/// Finds line and column (1-based; column in characters) of the `ordinal`-th start tag
/// of the file by rescanning it. Meant for error messages: costs one pass over the
/// file up to that tag. Returns 0 on success, -1 when not found.
int sm_xml_locate_start_tag(sm_xml_reader *reader, unsigned long long ordinal,
                            long *line, long *column);

/// The first error's message, or NULL: libxml2's words after "malformed XML: " for parse
/// errors, or this reader's own refusal (an entity reference in an attribute).
const char *sm_xml_error_message(sm_xml_reader *reader);
/// The first error's line (1-based), 0 when unknown.
int sm_xml_error_line(sm_xml_reader *reader);
/// The first error's column (1-based), 0 when unknown.
int sm_xml_error_column(sm_xml_reader *reader);

/// How many external resources (DTD subsets, external entities, schemas) libxml2
/// asked this reader to load; every one of them was refused.
int sm_xml_refused_loads(sm_xml_reader *reader);

#ifdef __cplusplus
}
#endif

#endif
