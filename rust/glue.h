/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C glue of ipi_steer: the few things Rust cannot reach directly (static
 * inline helpers and macros of the x86 headers).
 */
#ifndef IPI_STEER_GLUE_H
#define IPI_STEER_GLUE_H

#include <linux/types.h>

/* Bits of ipi_steer_glue_features(). */
#define IPI_STEER_F_KVM			(1U << 0)
#define IPI_STEER_F_PV_SEND_IPI		(1U << 1)
#define IPI_STEER_F_PV_SCHED_YIELD	(1U << 2)
#define IPI_STEER_F_X2APIC		(1U << 3)
#define IPI_STEER_F_TDX_GUEST		(1U << 4)
#define IPI_STEER_F_VENDOR_AMD		(1U << 5)

u32 ipi_steer_glue_features(void);

#endif /* IPI_STEER_GLUE_H */
