-- payrecon database contract (SPEC §3), MySQL/MariaDB flavour.
-- srb's own tables are created exactly as in srb_core.sql (DECIMAL(10,2), TIMESTAMP);
-- the tables srb lacks use DECIMAL(18,2) and DATETIME(3). Every CREATE is
-- IF NOT EXISTS, indexes inline, so an existing srb database is completed, never altered.

CREATE TABLE IF NOT EXISTS `user_info` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT COMMENT '编号',
  `user_type` tinyint(3) NOT NULL DEFAULT 0 COMMENT '1：出借人 2：借款人',
  `mobile` varchar(11) NOT NULL DEFAULT '' COMMENT '手机号',
  `password` varchar(50) NOT NULL DEFAULT '' COMMENT '用户密码',
  `nick_name` varchar(20) CHARACTER SET utf8mb4 NULL DEFAULT NULL COMMENT '用户昵称',
  `name` varchar(20) CHARACTER SET utf8mb4 NULL DEFAULT NULL COMMENT '用户姓名',
  `id_card` varchar(20) NULL DEFAULT NULL COMMENT '身份证号',
  `email` varchar(100) NULL DEFAULT NULL COMMENT '邮箱',
  `openid` varchar(40) NULL DEFAULT NULL COMMENT '微信用户标识openid',
  `head_img` varchar(200) NULL DEFAULT NULL COMMENT '头像',
  `bind_status` tinyint(3) NOT NULL DEFAULT 0 COMMENT '绑定状态',
  `borrow_auth_status` tinyint(3) NOT NULL DEFAULT 0 COMMENT '借款人认证状态',
  `bind_code` varchar(50) NULL DEFAULT NULL COMMENT '绑定账户协议号',
  `integral` int(11) NOT NULL DEFAULT 0 COMMENT '用户积分',
  `status` tinyint(3) NOT NULL DEFAULT 1 COMMENT '状态（0：锁定 1：正常）',
  `create_time` timestamp(0) NOT NULL DEFAULT CURRENT_TIMESTAMP(0) COMMENT '创建时间',
  `update_time` timestamp(0) NOT NULL DEFAULT CURRENT_TIMESTAMP(0) ON UPDATE CURRENT_TIMESTAMP(0) COMMENT '更新时间',
  `is_deleted` tinyint(1) NOT NULL DEFAULT 0 COMMENT '逻辑删除(1:已删除，0:未删除)',
  PRIMARY KEY (`id`),
  INDEX `uk_mobile`(`mobile`),
  INDEX `idx_bind_code`(`bind_code`)
) ENGINE = InnoDB CHARACTER SET = utf8 COMMENT = '用户基本信息';

CREATE TABLE IF NOT EXISTS `user_account` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT COMMENT '编号',
  `user_id` bigint(20) NOT NULL DEFAULT 0 COMMENT '用户id',
  `amount` decimal(10, 2) NOT NULL DEFAULT 0.00 COMMENT '帐户可用余额',
  `freeze_amount` decimal(10, 2) NOT NULL DEFAULT 0.00 COMMENT '冻结金额',
  `create_time` timestamp(0) NOT NULL DEFAULT CURRENT_TIMESTAMP(0) COMMENT '创建时间',
  `update_time` timestamp(0) NOT NULL DEFAULT CURRENT_TIMESTAMP(0) ON UPDATE CURRENT_TIMESTAMP(0) COMMENT '更新时间',
  `is_deleted` tinyint(1) NOT NULL DEFAULT 0 COMMENT '逻辑删除(1:已删除，0:未删除)',
  `version` int(11) NOT NULL DEFAULT 0 COMMENT '版本号',
  PRIMARY KEY (`id`),
  UNIQUE INDEX `uk_user_id`(`user_id`)
) ENGINE = InnoDB CHARACTER SET = utf8 COMMENT = '用户账户';

CREATE TABLE IF NOT EXISTS `trans_flow` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT COMMENT '编号',
  `user_id` bigint(20) NOT NULL DEFAULT 0 COMMENT '用户id',
  `user_name` varchar(20) NULL DEFAULT NULL COMMENT '用户名称',
  `trans_no` varchar(30) NOT NULL DEFAULT '' COMMENT '交易单号',
  `trans_type` tinyint(3) NOT NULL DEFAULT 0 COMMENT '交易类型（1：充值 2：提现 3：投标 4：投资回款 ...）',
  `trans_type_name` varchar(100) NULL DEFAULT NULL COMMENT '交易类型名称',
  `trans_amount` decimal(10, 2) NULL DEFAULT NULL COMMENT '交易金额',
  `memo` varchar(300) NULL DEFAULT NULL COMMENT '备注',
  `create_time` timestamp(0) NOT NULL DEFAULT CURRENT_TIMESTAMP(0) COMMENT '创建时间',
  `update_time` timestamp(0) NOT NULL DEFAULT CURRENT_TIMESTAMP(0) ON UPDATE CURRENT_TIMESTAMP(0) COMMENT '更新时间',
  `is_deleted` tinyint(1) NOT NULL DEFAULT 0 COMMENT '逻辑删除(1:已删除，0:未删除)',
  PRIMARY KEY (`id`),
  UNIQUE INDEX `uk_trans_no`(`trans_no`),
  INDEX `idx_user_id`(`user_id`),
  INDEX `idx_create_time`(`create_time`)
) ENGINE = InnoDB CHARACTER SET = utf8 COMMENT = '交易流水表';

CREATE TABLE IF NOT EXISTS `recharge_order` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `agent_bill_no` varchar(30) NOT NULL COMMENT '商户充值单号',
  `user_id` bigint NOT NULL,
  `bind_code` varchar(50) NOT NULL,
  `charge_amt` decimal(18, 2) NOT NULL,
  `fee_amt` decimal(18, 2) NOT NULL DEFAULT 0.00,
  `status` tinyint NOT NULL DEFAULT 0 COMMENT '0 已提交 1 支付中 2 已支付 3 支付失败',
  `version` int NOT NULL DEFAULT 0,
  `create_time` datetime(3) NOT NULL,
  `update_time` datetime(3) NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE INDEX `uk_agent_bill_no`(`agent_bill_no`),
  INDEX `idx_user_id`(`user_id`),
  INDEX `idx_status`(`status`, `update_time`)
) ENGINE = InnoDB CHARACTER SET = utf8mb4 COMMENT = '充值订单';

CREATE TABLE IF NOT EXISTS `notify_log` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `agent_bill_no` varchar(30) NOT NULL,
  `bind_code` varchar(50) NULL,
  `charge_amt` decimal(18, 2) NULL,
  `result_code` varchar(8) NULL,
  `sign_ok` tinyint NOT NULL,
  `outcome` varchar(32) NOT NULL,
  `response_body` varchar(255) NULL,
  `received_at` datetime(3) NOT NULL,
  `handled_ms` int NOT NULL DEFAULT 0,
  PRIMARY KEY (`id`),
  INDEX `idx_agent_bill_no`(`agent_bill_no`),
  INDEX `idx_received_at`(`received_at`)
) ENGINE = InnoDB CHARACTER SET = utf8mb4 COMMENT = '回调记录';

CREATE TABLE IF NOT EXISTS `idempotency_record` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `source` varchar(32) NOT NULL,
  `seq` varchar(64) NOT NULL,
  `request_hash` char(64) NOT NULL,
  `status` varchar(16) NOT NULL,
  `response_body` varchar(255) NULL,
  `locked_at` datetime(3) NULL,
  `created_at` datetime(3) NOT NULL,
  `completed_at` datetime(3) NULL,
  `expires_at` datetime(3) NULL,
  PRIMARY KEY (`id`),
  UNIQUE INDEX `uk_source_seq`(`source`, `seq`)
) ENGINE = InnoDB CHARACTER SET = utf8mb4 COMMENT = '幂等记录';
