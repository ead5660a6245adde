/*
 * reader.c: the only file of SeqModels that includes libxml2's headers.
 *
 * What libxml2 2.9 forces here, and how it is contained:
 *  - External resources (external DTD subsets, external parsed entities, schemas)
 *    are fetched through one process-wide hook, xmlSetExternalEntityLoader: libxml2
 *    offers no per-parser loader before 2.14 (xmlCtxtSetResourceLoader). We install,
 *    once (pthread_once), a loader that refuses every request made while one of *our*
 *    readers is inside libxml2 on the current thread (a thread-local marker set for
 *    the duration of each call) and hands every other request to the loader that was
 *    installed before. Other users of libxml2 in the process see no change in
 *    behaviour; our readers never load anything. The options below already keep
 *    libxml2 from asking; the loader is the second lock on the door.
 *  - Errors go to a structured handler registered on each reader
 *    (xmlTextReaderSetStructuredErrorHandler), never to the global generic handler.
 *    Only problems while creating the parser context (before the handler exists:
 *    reading the first 4 bytes) could still reach libxml2's default stderr handler.
 *  - Entity expansion bombs: we never pass XML_PARSE_NOENT (references to declared
 *    entities are reported as entity-reference nodes, which the Swift side turns into
 *    an error) nor XML_PARSE_HUGE (which in 2.9 switches off xmlParserEntityCheck,
 *    the amplification guard that libxml2 runs when it first checks an entity's
 *    content). A "billion laughs" document therefore fails quickly with libxml2's
 *    "Detected an entity reference loop" error. Measured with libxml2 2.9.14 on the
 *    10-level, 10-fold "lol" bomb through xmlTextReader: default options or NOENT
 *    alone: that error at once (5 MB RSS); HUGE alone: no error, one entity-reference
 *    node (which the Swift side refuses); HUGE + NOENT: a 600,000,000-byte text node
 *    after 12 s and 3.5 GB RSS. Hence neither flag, ever.
 *  - Without XML_PARSE_HUGE libxml2 also keeps its per-item limits: one text node or
 *    attribute value at most 10,000,000 bytes, names at most 50,000. A corpus breaking
 *    them fails with libxml2's message (e.g. "xmlSAX2Characters: huge text node"); the
 *    size of the whole file is not limited (a 1 GB file streams in ~31 MB RSS).
 *  - Element line numbers: libxml2 2.9 stores them in 16 bits (saturating at 65535), so
 *    beyond that sm_xml_line says 0; error positions are exact anyway, either from
 *    libxml2's error record or from sm_xml_locate_start_tag's rescan.
 */
#include "CXMLReader.h"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlreader.h>
#include <libxml/tree.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Attribute values that had to be assembled (they contained character references
 * split into several nodes) live here until the next sm_xml_next. */
#define SM_MAX_TEMPORARY_STRINGS 16

struct sm_xml_reader {
    xmlTextReaderPtr reader;
    int fd;
    char *path;
    char *error_message;
    int error_line;
    int error_column;
    int refused_loads;
    unsigned long long element_ordinal;
    xmlChar *temporary[SM_MAX_TEMPORARY_STRINGS];
    int temporary_count;
};

long sm_xml_line(sm_xml_reader *r);

/* ---- refusing external resources -------------------------------------------- */

static __thread sm_xml_reader *sm_active_reader = NULL;
static xmlExternalEntityLoader sm_previous_loader = NULL;
static pthread_once_t sm_loader_once = PTHREAD_ONCE_INIT;

static void sm_record_error(sm_xml_reader *r, const char *message, int line, int column) {
    if (r->error_message != NULL) return; /* keep the first error: later ones follow from it */
    size_t length = strlen(message);
    while (length > 0 && (message[length - 1] == '\n' || message[length - 1] == ' ')) length--;
    r->error_message = malloc(length + 1);
    if (r->error_message == NULL) return;
    memcpy(r->error_message, message, length);
    r->error_message[length] = 0;
    r->error_line = line;
    r->error_column = column;
}

static xmlParserInputPtr sm_refusing_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt) {
    sm_xml_reader *r = sm_active_reader;
    if (r == NULL) {
        return sm_previous_loader != NULL ? sm_previous_loader(url, id, ctxt) : NULL;
    }
    r->refused_loads++;
    return NULL; /* libxml2 reports "failed to load external entity" where it matters */
}

static void sm_install_loader(void) {
    xmlInitParser(); /* libxml2 asks for this once per process before threads use it */
    sm_previous_loader = xmlGetExternalEntityLoader();
    xmlSetExternalEntityLoader(sm_refusing_loader);
}

/* ---- errors ---------------------------------------------------------------- */

/* Records "malformed XML: MESSAGE (EXPLANATION)", libxml2's trailing newline dropped. */
static void sm_record_explained_error(sm_xml_reader *r, const char *message, const char *explanation,
                                      int line, int column) {
    char buffer[512];
    size_t length = strlen(message);
    while (length > 0 && message[length - 1] == '\n') length--;
    snprintf(buffer, sizeof buffer, "malformed XML: %.*s (%s)", (int)length, message, explanation);
    sm_record_error(r, buffer, line, column);
}

static void sm_structured_error(void *user_data, xmlErrorPtr error) {
    sm_xml_reader *r = user_data;
    if (r == NULL || error == NULL || error->level < XML_ERR_ERROR) return; /* warnings pass */
    int line = error->line, column = error->int2;
    if (error->file == NULL || strcmp(error->file, r->path) != 0) {
        /* Raised while libxml2 checked an entity's replacement text: its position is
         * inside that text. Report where the parser is in the document instead. */
        line = xmlTextReaderGetParserLineNumber(r->reader);
        column = xmlTextReaderGetParserColumnNumber(r->reader);
    }
    const char *message = error->message != NULL ? error->message : "unknown XML error";
    if (error->code == XML_ERR_ENTITY_LOOP) {
        sm_record_explained_error(r, message, "entity expansion refused: the document's entities would expand too "
                                  "much, as in a \"billion laughs\" attack", line, column);
    } else if (strstr(message, "huge text node") != NULL || strstr(message, "Huge input lookup") != NULL) {
        /* libxml2's per-item limits (see the top of this file): say what they mean. */
        sm_record_explained_error(r, message, "a text or attribute value of more than 10,000,000 bytes, which is "
                                  "refused to keep memory bounded", line, column);
    } else {
        char buffer[1024];
        snprintf(buffer, sizeof buffer, "malformed XML: %s", message);
        sm_record_error(r, buffer, line, column);
    }
}

/* ---- open / close ---------------------------------------------------------- */

static char *sm_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy != NULL) memcpy(copy, s, n);
    return copy;
}

static void sm_set_open_error(char **error, const char *what, const char *path, const char *why) {
    if (error == NULL) return;
    size_t n = strlen(what) + strlen(path) + strlen(why) + 8;
    *error = malloc(n);
    if (*error != NULL) snprintf(*error, n, "%s %s: %s", what, path, why);
}

static sm_xml_reader *sm_open(const char *path, int extra_options, char **error);

sm_xml_reader *sm_xml_open(const char *path, char **error) {
    return sm_open(path, 0, error);
}

sm_xml_reader *sm_xml_open_requesting_loads_for_testing(const char *path, char **error) {
    return sm_open(path, XML_PARSE_DTDLOAD | XML_PARSE_DTDATTR | XML_PARSE_NOENT, error);
}

static sm_xml_reader *sm_open(const char *path, int extra_options, char **error) {
    if (error != NULL) *error = NULL;
    pthread_once(&sm_loader_once, sm_install_loader);

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        sm_set_open_error(error, "cannot open", path, strerror(errno));
        return NULL;
    }
    sm_xml_reader *r = calloc(1, sizeof *r);
    if (r == NULL) {
        close(fd);
        sm_set_open_error(error, "out of memory opening", path, "");
        return NULL;
    }
    r->fd = fd;
    r->path = sm_strdup(path);

    /* NONET: no network. NONET alone is not enough against local files, hence the
     * loader. Not set on purpose: NOENT (substitute entities), DTDLOAD, DTDATTR,
     * DTDVALID, XINCLUDE, HUGE (would disable the entity-amplification guard). */
    int options = XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_COMPACT |
                  XML_PARSE_NOERROR | XML_PARSE_NOWARNING | extra_options;
    sm_active_reader = r;
    r->reader = xmlReaderForFd(fd, path, NULL, options);
    if (r->reader != NULL) {
        xmlTextReaderSetStructuredErrorHandler(r->reader, sm_structured_error, r);
    }
    sm_active_reader = NULL;
    if (r->reader == NULL) {
        sm_set_open_error(error, "cannot start reading", path, "libxml2 could not create a reader");
        sm_xml_close(r);
        return NULL;
    }
    return r;
}

static void sm_free_temporaries(sm_xml_reader *r) {
    for (int i = 0; i < r->temporary_count; i++) xmlFree(r->temporary[i]);
    r->temporary_count = 0;
}

void sm_xml_close(sm_xml_reader *r) {
    if (r == NULL) return;
    sm_free_temporaries(r);
    if (r->reader != NULL) xmlFreeTextReader(r->reader);
    if (r->fd >= 0) close(r->fd);
    free(r->error_message);
    free(r->path);
    free(r);
}

void sm_xml_free_string(char *string) { free(string); }

/* ---- reading --------------------------------------------------------------- */

int sm_xml_next(sm_xml_reader *r) {
    sm_free_temporaries(r);
    if (r->error_message != NULL) return SM_XML_ERROR;
    for (;;) {
        sm_active_reader = r;
        int status = xmlTextReaderRead(r->reader);
        sm_active_reader = NULL;
        if (r->error_message != NULL) return SM_XML_ERROR;
        if (status < 0) {
            sm_record_error(r, "malformed XML: the XML reader stopped on an error", 0, 0);
            return SM_XML_ERROR;
        }
        if (status == 0) return SM_XML_END_OF_DOCUMENT;
        switch (xmlTextReaderNodeType(r->reader)) {
        case XML_READER_TYPE_ELEMENT:
            r->element_ordinal++;
            return SM_XML_START_ELEMENT;
        case XML_READER_TYPE_END_ELEMENT:
            return SM_XML_END_ELEMENT;
        case XML_READER_TYPE_TEXT:
        case XML_READER_TYPE_CDATA:
            return SM_XML_TEXT;
        case XML_READER_TYPE_WHITESPACE:
        case XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
            return SM_XML_WHITESPACE;
        case XML_READER_TYPE_ENTITY_REFERENCE:
            return SM_XML_ENTITY_REFERENCE;
        default:
            continue; /* comments, processing instructions, doctype */
        }
    }
}

const char *sm_xml_intern(sm_xml_reader *r, const char *name) {
    return (const char *)xmlTextReaderConstString(r->reader, (const xmlChar *)name);
}

const char *sm_xml_local_name(sm_xml_reader *r) {
    xmlNodePtr node = xmlTextReaderCurrentNode(r->reader);
    if (node == NULL || node->name == NULL) return "";
    if (node->type == XML_ELEMENT_NODE || node->type == XML_ENTITY_REF_NODE)
        return (const char *)node->name;
    return "";
}

const char *sm_xml_namespace_uri(sm_xml_reader *r) {
    xmlNodePtr node = xmlTextReaderCurrentNode(r->reader);
    if (node == NULL || node->type != XML_ELEMENT_NODE || node->ns == NULL) return NULL;
    return (const char *)node->ns->href;
}

const char *sm_xml_value(sm_xml_reader *r) {
    return (const char *)xmlTextReaderConstValue(r->reader);
}

const char *sm_xml_attribute(sm_xml_reader *r, const char *local_name, const char *namespace_uri) {
    xmlNodePtr node = xmlTextReaderCurrentNode(r->reader);
    if (node == NULL || node->type != XML_ELEMENT_NODE) return NULL;
    for (xmlAttrPtr a = node->properties; a != NULL; a = a->next) {
        if (strcmp((const char *)a->name, local_name) != 0) continue;
        if (namespace_uri != NULL) {
            if (a->ns == NULL || a->ns->href == NULL) continue;
            if (strcmp((const char *)a->ns->href, namespace_uri) != 0) continue;
        }
        xmlNodePtr child = a->children;
        if (child == NULL) return "";
        for (xmlNodePtr part = child; part != NULL; part = part->next) {
            if (part->type != XML_ENTITY_REF_NODE) continue;
            /* xmlNodeListGetString would expand it: refuse, as in element content. */
            char buffer[512];
            snprintf(buffer, sizeof buffer,
                     "the attribute \"%s\" uses the entity reference &%s;, which is not expanded "
                     "(user-declared entities are refused for safety); write the text or a numeric "
                     "character reference instead", local_name, (const char *)part->name);
            sm_record_error(r, buffer, (int)sm_xml_line(r), 0);
            return NULL;
        }
        if (child->type == XML_TEXT_NODE && child->next == NULL && child->content != NULL)
            return (const char *)child->content;
        if (r->temporary_count == SM_MAX_TEMPORARY_STRINGS) {
            sm_record_error(r, "internal limit: too many split attribute values on one element",
                            (int)sm_xml_line(r), 0);
            return NULL;
        }
        xmlChar *joined = xmlNodeListGetString(node->doc, child, 1);
        if (joined == NULL) return "";
        r->temporary[r->temporary_count++] = joined;
        return (const char *)joined;
    }
    return NULL;
}

int sm_xml_is_empty_element(sm_xml_reader *r) {
    return xmlTextReaderIsEmptyElement(r->reader) == 1;
}

int sm_xml_depth(sm_xml_reader *r) { return xmlTextReaderDepth(r->reader); }

long sm_xml_line(sm_xml_reader *r) {
    xmlNodePtr node = xmlTextReaderCurrentNode(r->reader);
    if (node == NULL || node->line == 0 || node->line >= 65535) return 0;
    return (long)node->line;
}

unsigned long long sm_xml_element_ordinal(sm_xml_reader *r) { return r->element_ordinal; }

const char *sm_xml_error_message(sm_xml_reader *r) { return r->error_message; }
int sm_xml_error_line(sm_xml_reader *r) { return r->error_line; }
int sm_xml_error_column(sm_xml_reader *r) { return r->error_column; }
int sm_xml_refused_loads(sm_xml_reader *r) { return r->refused_loads; }

/* ---- locating a start tag by rescanning ------------------------------------- */

typedef struct {
    FILE *file;
    long line;
    long column; /* column of the character returned last */
    int pending;
} sm_scanner;

/* Next byte, with CR LF and lone CR read as one LF; tracks line and column. */
static int sm_scan(sm_scanner *s) {
    int c;
    if (s->pending != EOF) {
        c = s->pending;
        s->pending = EOF;
    } else {
        c = getc_unlocked(s->file);
    }
    if (c == '\r') {
        int d = getc_unlocked(s->file);
        if (d != '\n' && d != EOF) s->pending = d;
        c = '\n';
    }
    if (c == '\n') {
        s->line++;
        s->column = 0;
    } else if (c != EOF && (c & 0xC0) != 0x80) {
        s->column++; /* count characters, not UTF-8 continuation bytes */
    }
    return c;
}

/* Skips until `terminator` has been read. */
static int sm_skip_past(sm_scanner *s, const char *terminator) {
    size_t n = strlen(terminator), matched = 0;
    int c;
    while ((c = sm_scan(s)) != EOF) {
        if (c == terminator[matched]) {
            if (++matched == n) return 0;
        } else {
            matched = (c == terminator[0]) ? 1 : 0;
        }
    }
    return -1;
}

/* Skips a tag body up to its closing '>', respecting quoted attribute values. */
static int sm_skip_tag(sm_scanner *s) {
    int c, quote = 0;
    while ((c = sm_scan(s)) != EOF) {
        if (quote) {
            if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '>') {
            return 0;
        }
    }
    return -1;
}

/* Skips `<!DOCTYPE …>` including an internal subset with its declarations. */
static int sm_skip_doctype(sm_scanner *s) {
    int c, quote = 0, brackets = 0;
    while ((c = sm_scan(s)) != EOF) {
        if (quote) {
            if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '[') {
            brackets++;
        } else if (c == ']') {
            brackets--;
        } else if (c == '<' && brackets > 0) {
            int d = sm_scan(s);
            if (d == '!') {
                int e = sm_scan(s);
                if (e == '-') {
                    sm_scan(s);
                    if (sm_skip_past(s, "-->") < 0) return -1;
                } else if (sm_skip_tag(s) < 0) {
                    return -1;
                }
            } else if (d == '?') {
                if (sm_skip_past(s, "?>") < 0) return -1;
            }
        } else if (c == '>' && brackets <= 0) {
            return 0;
        }
    }
    return -1;
}

int sm_xml_locate_start_tag(sm_xml_reader *r, unsigned long long ordinal, long *line, long *column) {
    FILE *file = fopen(r->path, "rb");
    if (file == NULL) return -1;
    sm_scanner s = {file, 1, 0, EOF};
    unsigned long long seen = 0;
    int c, result = -1;
    while ((c = sm_scan(&s)) != EOF) {
        if (c != '<') continue;
        long tag_line = s.line, tag_column = s.column;
        int d = sm_scan(&s);
        if (d == '/') {
            if (sm_skip_tag(&s) < 0) break;
        } else if (d == '?') {
            if (sm_skip_past(&s, "?>") < 0) break;
        } else if (d == '!') {
            int e = sm_scan(&s);
            if (e == '-') {
                sm_scan(&s);
                if (sm_skip_past(&s, "-->") < 0) break;
            } else if (e == '[') {
                if (sm_skip_past(&s, "]]>") < 0) break;
            } else if (sm_skip_doctype(&s) < 0) {
                break;
            }
        } else if (d != EOF) {
            if (++seen == ordinal) {
                *line = tag_line;
                *column = tag_column;
                result = 0;
                break;
            }
            if (d != '>' && sm_skip_tag(&s) < 0) break;
        }
    }
    fclose(file);
    return result;
}
