// The wire protocol's device side (docs/protocol.md): one request in, one answer out.
#pragma once

#include "espml_frame.h"

void protocol_start();  // load the active model slot into the interpreter
void protocol_handle(const espml_frame_t &request);
