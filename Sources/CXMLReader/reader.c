#include "CXMLReader.h"
