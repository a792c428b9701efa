/* Declaration-only mirror for the link check: components/esp_common/include/esp_idf_version.h
 * (v5.2 .. v5.5), with the release check.py's profile describes (sdkconfig.h). */
#pragma once

#include "sdkconfig.h"

#define ESP_IDF_VERSION_MAJOR   5
#define ESP_IDF_VERSION_MINOR   LINK_CHECK_IDF_MINOR
#define ESP_IDF_VERSION_PATCH   LINK_CHECK_IDF_PATCH

#define ESP_IDF_VERSION_VAL(major, minor, patch) ((major << 16) | (minor << 8) | (patch))

#define ESP_IDF_VERSION  ESP_IDF_VERSION_VAL(ESP_IDF_VERSION_MAJOR, \
                                             ESP_IDF_VERSION_MINOR, \
                                             ESP_IDF_VERSION_PATCH)
