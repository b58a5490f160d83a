/* records.h - the public view of buildings and energy contracts, for other handlers. */
#ifndef FD_API_RECORDS_H
#define FD_API_RECORDS_H

#include <jansson.h>

/* The record (kind REC_BUILDING or REC_CONTRACT) with its fields in order. New reference. */
json_t *record_view(int kind, json_t *rec);

#endif
