#ifndef SEQMODELS_CLIBXML2_SHIM_H
#define SEQMODELS_CLIBXML2_SHIM_H
/* libxml2 for the C target CXMLReader, which includes these headers itself. No Swift module
 * imports this one: libxml2's headers pull in ICU, which clashes with Foundation's. */
#include <libxml/xmlreader.h>
#endif
